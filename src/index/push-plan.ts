// What a push update does to one item's records and sorted-set members. Pure.
import {
  addDisplayNames,
  type DisplayName,
  displayNameKey,
  type EntryRefusal,
  type ItemRecord,
  MAX_ENTRY_WORDS,
  MAX_ITEM_ENTRIES,
} from "../catalog/entries.ts";
import { entryMembers, type MemberForm, NEW_FORM, vocabularyMember } from "./members.ts";

interface AddItem {
  linked: string;
  slug?: string;
  name?: string;
  origin_name?: string;
  /** The origin's display name per iso, for the origin names of a new record's entries (the change follower gives them). */
  origin_names?: Record<string, string>;
  display_names: DisplayName[];
}
interface RemoveItem {
  linked: string;
  /** Absent: every entry of the item. */
  display_names?: DisplayName[];
}
export type PushOp = { op: "add"; item: AddItem } | { op: "remove"; item: RemoveItem } | { op: "replace"; source: RemoveItem; target: AddItem };

/** One sorted-set change: phrase add/remove, word add/remove, vocabulary add. */
type MemberChange = ["pa" | "pr" | "wa" | "wr" | "v", string, string];

/** A push that would take an item past a limit, naming the body field. */
export class PushRefused extends Error {
  constructor(
    readonly field: string,
    message: string,
  ) {
    super(`${field}: ${message}`);
  }
}

export interface PushPlan {
  records: Map<string, ItemRecord | null>;
  changes: MemberChange[];
  entriesDelta: number;
  added: number;
  removed: number;
  /** Display names left out for a limit: a push is then refused whole, a journaled one replays the rest. */
  refused: PushRefused | null;
}

export function skusOf(op: PushOp): string[] {
  if (op.op === "replace") return [...new Set([op.source.linked, op.target.linked])];
  return [op.item.linked];
}

/** What an op does to the given current records, members written in the generation's form. Pure. */
export function planPush(op: PushOp, current: Map<string, ItemRecord | null>, form: MemberForm = NEW_FORM): PushPlan {
  const records = new Map<string, ItemRecord | null>();
  // Entries are replaced, never changed in place: a copy of the list is enough.
  for (const [sku, r] of current) records.set(sku, r ? { ...r, e: [...r.e] } : null);
  const plan: PushPlan = { records, changes: [], entriesDelta: 0, added: 0, removed: 0, refused: null };

  const remove = (item: RemoveItem) => {
    const record = records.get(item.linked);
    if (!record) return;
    const wanted = item.display_names ? new Set(item.display_names.map((d) => displayNameKey(d.iso, d.display_name))) : null;
    record.e.forEach((e, position) => {
      if (!e || (wanted && !wanted.has(displayNameKey(e[0], e[1])))) return;
      record.e[position] = null;
      plan.removed++;
    });
    while (record.e.length && record.e[record.e.length - 1] === null) record.e.pop();
    if (record.e.length === 0) records.set(item.linked, null);
  };

  const add = (item: AddItem, at = "", before: ItemRecord | null = null) => {
    let record = records.get(item.linked) ?? null;
    if (!record) {
      record = { n: item.name ?? "", s: item.slug ?? "", o: { ...item.origin_names }, e: [] };
      records.set(item.linked, record);
    }
    const refuse = (reason: EntryRefusal, { display_name }: DisplayName) => {
      plan.refused ??=
        reason === "too_many_words"
          ? new PushRefused(
              `${at}display_names.display_name`,
              `an entry (display name, name and origin name together) may have at most ${MAX_ENTRY_WORDS} words; "${display_name.slice(0, 40)}" has more`,
            )
          : new PushRefused(`${at}display_names`, `an item may have at most ${MAX_ITEM_ENTRIES} entries; ${item.linked} would have more`);
    };
    const appended = addDisplayNames(record, item.display_names, item.origin_name, refuse);
    if (before) intoFreePositions(record, appended, before);
    plan.added += appended.length;
  };

  if (op.op === "add") add(op.item);
  else if (op.op === "remove") remove(op.item);
  else {
    remove(op.source);
    add(op.target, "target.", op.source.linked === op.target.linked ? (current.get(op.target.linked) ?? null) : null);
  }
  for (const [sku, before] of current) plan.changes.push(...memberChanges(sku, before, records.get(sku) ?? null, form));
  plan.entriesDelta = plan.added - plan.removed;
  return plan;
}

/**
 * The sorted-set changes that take an item's members from record `before` to `after`, position by
 * position: an entry's members follow from its position, language, display name, origin name and
 * the item's name alone, so an entry kept with all of them writes nothing, and one whose origin
 * name changed writes only the words that differ.
 */
function memberChanges(sku: string, before: ItemRecord | null, after: ItemRecord | null, form: MemberForm): MemberChange[] {
  const changes: MemberChange[] = [];
  const sameName = before?.n === after?.n;
  const length = Math.max(before?.e.length ?? 0, after?.e.length ?? 0);
  for (let position = 0; position < length; position++) {
    const was = before?.e[position];
    const now = after?.e[position];
    if (sameName && was && now && was[0] === now[0] && was[1] === now[1] && was[2] === now[2]) continue;
    const old = was ? entryMembers(sku, before!, position, form)! : null;
    const next = now ? entryMembers(sku, after!, position, form)! : null;
    const keptPhrase = old && next && old.iso === next.iso && old.phrase === next.phrase;
    const keptWords = new Set(keptPhrase ? old.words.filter((w) => next.words.includes(w)) : []);
    if (old) {
      if (!keptPhrase) changes.push(["pr", old.iso, old.phrase]);
      for (const w of old.words) if (!keptWords.has(w)) changes.push(["wr", old.iso, w]);
    }
    if (next) {
      if (!keptPhrase) changes.push(["pa", next.iso, next.phrase]);
      next.words.forEach((w, i) => {
        if (!keptWords.has(w)) changes.push(["wa", next.iso, w], ["v", next.iso, vocabularyMember(next.vocabulary[i]!, next.iso)]);
      });
    }
  }
  return changes;
}

/**
 * Moves the entries just appended to `record` (at `appended`) into its empty positions, each entry
 * the item had `before` back to the position it had: an entry's id holds its position, so an entry
 * a replace keeps keeps its members (a change follower's update of an origin rewrites only what
 * its names change).
 */
function intoFreePositions(record: ItemRecord, appended: number[], before: ItemRecord): void {
  if (!appended.length) return;
  const moving = appended.map((p) => record.e[p]!);
  record.e.length = appended[0]!;
  const freed = new Map<string, number>();
  before.e.forEach((e, position) => {
    if (e && !record.e[position]) freed.set(displayNameKey(e[0], e[1]), position);
  });
  const placed = moving.map((e) => freed.get(displayNameKey(e[0], e[1])) ?? -1);
  for (const [i, position] of placed.entries()) if (position >= 0) record.e[position] = moving[i]!;
  let free = 0;
  for (const [i, position] of placed.entries()) {
    if (position >= 0) continue;
    while (record.e[free]) free++;
    record.e[free] = moving[i]!;
  }
  for (let i = 0; i < record.e.length; i++) record.e[i] ??= null;
}
