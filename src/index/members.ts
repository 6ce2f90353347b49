// What one entry adds to a generation's sorted sets. Pure.
import { entryId, type ItemRecord } from "../catalog/entries.ts";
import { phrase, words } from "../catalog/normalize.ts";

export interface EntryMembers {
  /** The language as it names the entry's sorted sets: lower-cased, so `iso` filters ignore case. */
  iso: string;
  phrase: string;
  words: string[];
}

/** Sorted-set members of the entry at `position` of an item (null if that entry was removed). */
export function entryMembers(sku: string, record: ItemRecord, position: number): EntryMembers | null {
  const e = record.e[position];
  if (!e) return null;
  const [iso, displayName, originName] = e;
  const id = entryId(sku, position);
  const tokens = new Set([...words(displayName), ...words(record.n), ...words(originName)]);
  return {
    iso: iso.toLowerCase(),
    phrase: `${phrase(displayName)}\u0000${id}`,
    words: [...tokens].map((w) => `${w}\u0000${id}`),
  };
}

/** The word part of a word member. */
export function memberWord(member: string): string {
  return member.slice(0, member.indexOf("\u0000"));
}
