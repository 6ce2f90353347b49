// What one entry adds to a generation's sorted sets, and how to read a member back. Pure.
//   phrase:<iso> member: "<normalised display name>\0<entry id>" (entry id: entries.ts)
//   word:<iso>   member: "<normalised word>\0<length><normalised display name>\0<entry id>" for the
//                words of the display name, and "\x01<normalised word>\0…" for the words only the
//                item's name or origin name has: those sort apart (normalised words hold only letters
//                and digits), so search reads an entry's own words first and the others only when
//                needed. <length> is the display name's length in two characters below a space, so
//                the members of one word sort shortest name first, the order search ranks in.
//                (Members written before have neither mark; they are read as before.)
// The display name in word members lets search rank candidates without reading item records.
import { type EntryIdForm, entryId, type ItemRecord, splitEntryId } from "../catalog/entries.ts";
import { phrase, words } from "../catalog/normalize.ts";

interface EntryMembers {
  /** The language as it names the entry's sorted sets: lower-cased, so `iso` filters ignore case. */
  iso: string;
  phrase: string;
  words: string[];
}

/** Sorted-set members of the entry at `position` of an item (null if that entry was removed), with ids in the generation's form. */
export function entryMembers(sku: string, record: ItemRecord, position: number, form: EntryIdForm = "short"): EntryMembers | null {
  const e = record.e[position];
  if (!e) return null;
  const [iso, displayName, originName] = e;
  const id = entryId(sku, position, form);
  const display = phrase(displayName);
  const length = lengthMark(display.length);
  const own = new Set(words(displayName));
  const other = new Set([...words(record.n), ...words(originName)].filter((w) => !own.has(w)));
  return {
    iso: iso.toLowerCase(),
    phrase: `${display}\u0000${id}`,
    words: [
      ...[...own].map((w) => `${w}\u0000${length}${display}\u0000${id}`),
      ...[...other].map((w) => `${NAME_MARK}${w}\u0000${length}${display}\u0000${id}`),
    ],
  };
}

/** A length as two characters from \x01 to \x1f (up to 960), ordered as the numbers are. */
function lengthMark(n: number): string {
  const v = Math.min(n, 31 * 31 - 1);
  return String.fromCharCode(1 + Math.floor(v / 31), 1 + (v % 31));
}

/** Leads the word members of words an entry is found by only through its item's name or origin name. */
export const NAME_MARK = "\u0001";

interface ParsedMember {
  /** The word (word members) or the display name (phrase members). */
  key: string;
  /** The normalised display name. */
  phrase: string;
  /** The entry id's item part (splitEntryId): its sku as the id writes it. */
  item: string;
  position: number;
  id: string;
}

/** The word of a word member, the display name of a phrase member: the text before the first NUL (without the name mark). */
export function memberKey(member: string): string {
  const from = member.startsWith(NAME_MARK) ? 1 : 0;
  const first = member.indexOf("\u0000");
  return first < 0 ? member.slice(from) : member.slice(from, first);
}

/** Reads a phrase or word member; null if it is not one of ours. */
export function parseMember(member: string): ParsedMember | null {
  const first = member.indexOf("\u0000");
  const last = member.lastIndexOf("\u0000");
  if (first < 0) return null;
  const id = member.slice(last + 1);
  const parsed = splitEntryId(id);
  if (!parsed) return null;
  const key = member.slice(member.startsWith(NAME_MARK) ? 1 : 0, first);
  if (first === last) return { key, phrase: key, item: parsed.item, position: parsed.position, id };
  // The length mark, when there is one: a display name starts with a letter or digit.
  const from = member.charCodeAt(first + 1) < 0x20 ? first + 3 : first + 1;
  return { key, phrase: member.slice(from, last), item: parsed.item, position: parsed.position, id };
}
