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
import { entryMembers, type MemberForm, memberKey, NEW_FORM } from "./members.ts";

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
  for (const [sku, r] of current) records.set(sku, r ? structuredClone(r) : null);
  const plan: PushPlan = { records, changes: [], entriesDelta: 0, added: 0, removed: 0, refused: null };

  const remove = (item: RemoveItem) => {
    const record = records.get(item.linked);
    if (!record) return;
    const wanted = item.display_names ? new Set(item.display_names.map((d) => displayNameKey(d.iso, d.display_name))) : null;
    record.e.forEach((e, position) => {
      if (!e || (wanted && !wanted.has(displayNameKey(e[0], e[1])))) return;
      const m = entryMembers(item.linked, record, position, form)!;
      plan.changes.push(["pr", m.iso, m.phrase], ...m.words.map((w): MemberChange => ["wr", m.iso, w]));
      record.e[position] = null;
      plan.removed++;
    });
    while (record.e.length && record.e[record.e.length - 1] === null) record.e.pop();
    if (record.e.length === 0) records.set(item.linked, null);
  };

  const add = (item: AddItem, at = "") => {
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
    for (const position of addDisplayNames(record, item.display_names, item.origin_name, refuse)) {
      const m = entryMembers(item.linked, record, position, form)!;
      plan.changes.push(["pa", m.iso, m.phrase]);
      for (const w of m.words) plan.changes.push(["wa", m.iso, w], ["v", m.iso, memberKey(w)]);
      plan.added++;
    }
  };

  if (op.op === "add") add(op.item);
  else if (op.op === "remove") remove(op.item);
  else {
    remove(op.source);
    add(op.target, "target.");
    plan.changes = withoutRewrites(plan.changes);
  }
  plan.entriesDelta = plan.added - plan.removed;
  return plan;
}

/**
 * The changes without the members a replace removes and adds again: they stay as they are, so a
 * replace that keeps most of an item's entries (a change follower's update of one name) writes
 * only what differs.
 */
function withoutRewrites(changes: MemberChange[]): MemberChange[] {
  // The set a member is in ("p"hrase or "w"ord), its language and the member itself.
  const key = ([kind, iso, member]: MemberChange) => `${kind[0]}\u0000${iso}\u0000${member}`;
  const removed = new Set(changes.filter(([kind]) => kind === "pr" || kind === "wr").map(key));
  const kept = new Set(changes.filter((c) => (c[0] === "pa" || c[0] === "wa") && removed.has(key(c))).map(key));
  return changes.filter((c) => c[0] === "v" || !kept.has(key(c)));
}
