// Mongo documents → search entries (docs/spec.md §1). Pure: no I/O.
import { words } from "./normalize.ts";
import { type Entry, ISO_PATTERN, type SkipReason } from "./types.ts";

const MAX_EXAMPLES = 20;

// An entry is one sorted-set member per word, each holding its display name, and an item's
// entries are rewritten and removed together by one push: these bound what one document or one
// push can cost Redis (README "Limits").
/** Most characters of an indexed text: a display name, an origin's name (and a push's origin name). */
export const MAX_TEXT_CHARS = 1000;
/** Most distinct words of one entry: its display name, name and origin name together. */
export const MAX_ENTRY_WORDS = 32;
/** Most entries of one item. */
export const MAX_ITEM_ENTRIES = 1000;

/** Whether an entry would be found by more than MAX_ENTRY_WORDS distinct words (its display name's, name's and origin name's). */
function tooManyWords(displayName: string, name: string, originName: string): boolean {
  const [own, named, origin] = [words(displayName), words(name), words(originName)];
  // Counted with repeats first: most entries are far below the limit, and need no set.
  if (own.length + named.length + origin.length <= MAX_ENTRY_WORDS) return false;
  return new Set([...own, ...named, ...origin]).size > MAX_ENTRY_WORDS;
}

/** Why an (iso, display_name) was not added to an item. */
export type EntryRefusal = "too_many_words" | "too_many_entries";

// Hex text of an ObjectId in one case: the change follower finds an item's documents by the forms
// of its sku (source/changes.ts idForms), and a mixed case is not one of them.
const OBJECT_ID_HEX = /^(?:[0-9a-f]{24}|[0-9A-F]{24})$/;
const ISO_RE = new RegExp(ISO_PATTERN);

export type SkippedSummary = Partial<Record<SkipReason, { count: number; examples: string[] }>>;

/** Skipped documents (or names) over every reason. */
export function skippedTotal(skipped: SkippedSummary): number {
  return Object.values(skipped).reduce((sum, s) => sum + (s?.count ?? 0), 0);
}

/** Most characters of an example `_id` (docIdText): the examples are stored and served with every run. */
const MAX_EXAMPLE_CHARS = 100;

/** An example `_id` cut to MAX_EXAMPLE_CHARS, not inside a surrogate pair, with "…" when cut. */
function exampleId(docId: string): string {
  if (docId.length <= MAX_EXAMPLE_CHARS) return docId;
  const cut = /[\uD800-\uDBFF]/.test(docId[MAX_EXAMPLE_CHARS - 1]!) ? MAX_EXAMPLE_CHARS - 1 : MAX_EXAMPLE_CHARS;
  return `${docId.slice(0, cut)}…`;
}

/** Counts skipped documents per reason, keeping up to 20 example `_id`s each. */
export class SkipTally {
  readonly byReason: SkippedSummary = {};
  add(reason: SkipReason, docId: string): void {
    this.byReason[reason] ??= { count: 0, examples: [] };
    const slot = this.byReason[reason];
    slot.count++;
    const example = exampleId(docId);
    if (slot.examples.length < MAX_EXAMPLES && !slot.examples.includes(example)) slot.examples.push(example);
  }
  total(): number {
    return skippedTotal(this.byReason);
  }
}

export interface DisplayName {
  iso: string;
  display_name: string;
}

/**
 * An item as stored in the index: the origin's name and slug, its first display name per
 * iso (for `origin_name`), and its entries as [iso, display_name, origin_name]. A removed
 * entry leaves `null` so the positions (part of each entry's id) stay stable.
 */
export interface ItemRecord {
  n: string;
  s: string;
  o: Record<string, string>;
  e: ([string, string, string] | null)[];
}

/**
 * Hex string of an ObjectId-like value (driver ObjectId or 24-hex string), else null. A stored
 * document can look like an ObjectId (`{_bsontype: "ObjectId"}`) without being one.
 */
export function objectIdHex(value: unknown): string | null {
  if (typeof value === "string") return OBJECT_ID_HEX.test(value) ? value.toLowerCase() : null;
  if (value && typeof value === "object" && (value as { _bsontype?: string })._bsontype === "ObjectId") {
    const toHexString = (value as { toHexString?: unknown }).toHexString;
    const hex = typeof toHexString === "function" ? toHexString.call(value) : null;
    return typeof hex === "string" && OBJECT_ID_HEX.test(hex) ? hex : null;
  }
  return null;
}

/** A document's `_id` as text: its hex when it is an ObjectId or hex text, else idText. */
export function docIdText(doc: { _id?: unknown }): string {
  return objectIdHex(doc._id) ?? idText(doc._id);
}

/** Any `_id` as readable text: JSON, or String() for what JSON cannot hold. */
export function idText(id: unknown): string {
  try {
    return JSON.stringify(id) ?? "undefined";
  } catch {
    return String(id);
  }
}

/** The valid display names of a document; every invalid one is counted. */
export function validDisplayNames(value: unknown, docId: string, tally: SkipTally): DisplayName[] {
  if (value === undefined || value === null) {
    tally.add("display_name_missing", docId);
    return [];
  }
  if (!Array.isArray(value)) {
    tally.add("display_name_not_array", docId);
    return [];
  }
  const out: DisplayName[] = [];
  for (const element of value) {
    if (!element || typeof element !== "object" || Array.isArray(element)) {
      tally.add("display_name_element_not_object", docId);
      continue;
    }
    const { iso, display_name } = element as { iso?: unknown; display_name?: unknown };
    if (typeof display_name !== "string") {
      tally.add(display_name === undefined || display_name === null ? "display_name_empty" : "display_name_not_string", docId);
      continue;
    }
    if (display_name.trim() === "") {
      tally.add("display_name_empty", docId);
      continue;
    }
    if (display_name.length > MAX_TEXT_CHARS) {
      tally.add("display_name_too_long", docId);
      continue;
    }
    // Missing or blank: en. Otherwise trimmed, and a code search's `iso` filter takes (ISO_PATTERN), or the name is skipped.
    const code = typeof iso === "string" ? iso.trim() : "";
    if (code !== "" && !ISO_RE.test(code)) {
      tally.add("iso_invalid", docId);
      continue;
    }
    out.push({ iso: code || "en", display_name });
  }
  return out;
}

function textField(doc: Record<string, unknown>, field: "name" | "slug", docId: string, tally: SkipTally): string {
  const value = doc[field];
  if (typeof value === "string") return value;
  if (typeof value === "number" && Number.isFinite(value)) return String(value);
  tally.add(field === "name" ? "name_missing" : "slug_missing", docId);
  return "";
}

/** What makes an entry unique within its item: its (iso, display_name). */
export function displayNameKey(iso: string, displayName: string): string {
  return `${iso}\u0000${displayName}`;
}

/**
 * Adds display names as entries of `record`, skipping (iso, display_name) pairs it has, and
 * those past a limit (told to `refuse`). Returns the new positions.
 */
export function addDisplayNames(
  record: ItemRecord,
  names: DisplayName[],
  originName?: string,
  refuse: (reason: EntryRefusal, name: DisplayName) => void = () => {},
): number[] {
  const have = new Set<string>();
  for (const e of record.e) if (e) have.add(displayNameKey(e[0], e[1]));
  const added: number[] = [];
  for (const name of names) {
    const { iso, display_name } = name;
    const key = displayNameKey(iso, display_name);
    if (have.has(key)) continue;
    const origin = originName ?? record.o[iso] ?? display_name;
    if (tooManyWords(display_name, record.n, origin)) refuse("too_many_words", name);
    else if (have.size >= MAX_ITEM_ENTRIES) refuse("too_many_entries", name);
    else {
      have.add(key);
      record.e.push([iso, display_name, origin]);
      added.push(record.e.length - 1);
    }
  }
  return added;
}

/** An origin document → its sku and item record, or null when it cannot be indexed. */
export function originRecord(doc: Record<string, unknown>, tally: SkipTally): { sku: string; record: ItemRecord } | null {
  const docId = docIdText(doc);
  const sku = objectIdHex(doc._id);
  if (!sku) {
    tally.add("id_not_object_id", docId);
    return null;
  }
  const name = textField(doc, "name", docId, tally);
  // The name is part of every entry of the item: past the limit, none can be indexed.
  if (name.length > MAX_TEXT_CHARS) {
    tally.add("name_too_long", docId);
    return null;
  }
  const names = validDisplayNames(doc.display_name, docId, tally);
  const record: ItemRecord = { n: name, s: textField(doc, "slug", docId, tally), o: {}, e: [] };
  // An origin name is the first display name of its iso that can be an entry by itself.
  for (const { iso, display_name } of names) {
    if (record.o[iso] === undefined && !tooManyWords(display_name, name, display_name)) record.o[iso] = display_name;
  }
  addDisplayNames(record, names, undefined, (reason) => tally.add(reason, docId));
  return { sku, record };
}

/** The origin sku a supplier document links to, or null (counted) when `linked` is unusable. */
export function supplierLink(doc: Record<string, unknown>, tally: SkipTally): string | null {
  const linked = doc.linked;
  if (linked === undefined || linked === null || linked === "") {
    tally.add("linked_missing", docIdText(doc));
    return null;
  }
  const hex = objectIdHex(linked);
  if (!hex) tally.add("linked_invalid", docIdText(doc));
  return hex;
}

// An entry id names its item's sku and the entry's position. The sku's 12 bytes are written as
// 16 characters of an alphabet in ASCII order, so ids sort as the 24-hex skus do and every
// sorted-set member is 8 bytes shorter. Indexes written before (meta without `ids`) hold the
// 24-hex form, which parseEntryId reads too.
export const ID_ALPHABET = "-0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ_abcdefghijklmnopqrstuvwxyz";
/** Character code → its value in ID_ALPHABET, -1 for other characters. */
const ID_DIGIT = new Int8Array(128).fill(-1);
for (let i = 0; i < 64; i++) ID_DIGIT[ID_ALPHABET.charCodeAt(i)] = i;
/** 0…4095 as three hex digits. */
const HEX3 = Array.from({ length: 4096 }, (_, v) => v.toString(16).padStart(3, "0"));

/** How a generation writes entry ids: `short` (16-character sku) or the 24-hex `hex` form of older indexes. */
export type EntryIdForm = "short" | "hex";

export function entryId(sku: string, position: number, form: EntryIdForm = "short"): string {
  return `${form === "short" ? shortSku(sku) : sku}.${position.toString(36)}`;
}

export function parseEntryId(id: string): { sku: string; position: number } | null {
  const parts = splitEntryId(id);
  return parts && { sku: itemSku(parts.item), position: parts.position };
}

/**
 * An entry id's item part (the sku as the id writes it: ids of one form order and compare as
 * their skus do) and position, or null if it is not an entry id. Search turns only the few
 * items it reads into skus (itemSku).
 */
export function splitEntryId(id: string): { item: string; position: number } | null {
  const dot = id.lastIndexOf(".");
  if (dot < 0) return null;
  const position = parseInt(id.slice(dot + 1), 36);
  if (Number.isNaN(position)) return null;
  if (dot === 16) for (let i = 0; i < 16; i++) if ((ID_DIGIT[id.charCodeAt(i)] ?? -1) < 0) return null;
  return { item: id.slice(0, dot), position };
}

/** The sku of an entry id's item part (splitEntryId). */
export function itemSku(item: string): string {
  return item.length === 16 ? hexSku(item) : item;
}

/** The value of a hex digit by its character code (either case); other characters are not looked up. */
const HEX_DIGIT = new Uint8Array(128);
for (let v = 0; v < 16; v++) {
  HEX_DIGIT[v.toString(16).charCodeAt(0)] = v;
  HEX_DIGIT[v.toString(16).toUpperCase().charCodeAt(0)] = v;
}
/** The last sku shortened: the entries of one item are written one after another. */
const lastShort = { sku: "", short: "" };

/** 24 hex digits → 16 characters of ID_ALPHABET, three hex digits (two characters) at a time. */
function shortSku(sku: string): string {
  if (sku === lastShort.sku) return lastShort.short;
  let out = "";
  for (let i = 0; i < 24; i += 3) {
    const v = (HEX_DIGIT[sku.charCodeAt(i)]! << 8) | (HEX_DIGIT[sku.charCodeAt(i + 1)]! << 4) | HEX_DIGIT[sku.charCodeAt(i + 2)]!;
    out += ID_ALPHABET[v >> 6]! + ID_ALPHABET[v & 63]!;
  }
  lastShort.sku = sku;
  lastShort.short = out;
  return out;
}

/** Skus of short skus, kept: search turns popular items' ids into skus again and again (emptied when full). */
const hexSkus = new Map<string, string>();
const HEX_SKUS_KEPT = 20_000;

/** The sku of a short sku (16 characters of ID_ALPHABET). */
function hexSku(short: string): string {
  let out = hexSkus.get(short);
  if (out !== undefined) return out;
  out = "";
  for (let i = 0; i < 16; i += 2) out += HEX3[(ID_DIGIT[short.charCodeAt(i)]! << 6) | ID_DIGIT[short.charCodeAt(i + 1)]!];
  if (hexSkus.size >= HEX_SKUS_KEPT) hexSkus.clear();
  hexSkus.set(short, out);
  return out;
}

export function toEntry(sku: string, record: ItemRecord, position: number): Entry | null {
  const e = record.e[position];
  if (!e) return null;
  return { sku, linked: sku, name: record.n, display_name: e[1], iso: e[0], origin_name: e[2], slug: record.s };
}

export function entriesOf(sku: string, record: ItemRecord): Entry[] {
  const out: Entry[] = [];
  record.e.forEach((_, i) => {
    const entry = toEntry(sku, record, i);
    if (entry) out.push(entry);
  });
  return out;
}
