// What one entry adds to a generation's sorted sets, and how to read a member back. Pure.
//   phrase:<iso> member: "<normalised display name>\0<entry id>" (entry id: entries.ts)
//   word:<iso>   member: "<normalised word>\0<length><normalised display name>\0<entry id>" for the
//                words of the display name, and "\x01<normalised word>\0…" for the words only the
//                item's name or origin name has: those sort apart (normalised words hold only letters
//                and digits), so search reads an entry's own words first and the others only when
//                needed. <length> is the display name's length in two characters below a space, so
//                the members of one word sort shortest name first, the order search ranks in.
//                (Members written before have neither mark; they are read as before.)
//                A word member that would be longer than MEMBER_MAX bytes carries its display name cut
//                (at a character) so that it fits, followed by CUT_MARK: "<word>\0<length><cut name>\x01\0<entry id>".
//                Its length mark stays the whole name's; search reads the item record of such a member
//                before it ranks it (service.ts). Generations written before cuts have no `cut` in their meta.
//   vocab member: "<normalised word>\0<iso>" for each word of the word members of a language (older
//                indexes hold the word alone: its languages unknown), so search reads only the languages
//                that hold a query word.
// The display name in word members lets search rank candidates without reading item records.
import { type EntryIdForm, entryId, type ItemRecord, splitEntryId } from "../catalog/entries.ts";
import { phrase, words } from "../catalog/normalize.ts";

interface EntryMembers {
  /** The language as it names the entry's sorted sets: lower-cased, so `iso` filters ignore case. */
  iso: string;
  phrase: string;
  words: string[];
  /** The word of each of its word members, in their order: the words it is found by. */
  vocabulary: string[];
}

/** How a generation writes its members: the entry id form, and whether long word members carry a cut display name. */
export interface MemberForm {
  ids: EntryIdForm;
  cut: boolean;
}
/** The form a new generation is written in. */
export const NEW_FORM: MemberForm = { ids: "short", cut: true };

/** Longest member Redis keeps in a listpack (its default zset-max-listpack-value); longer ones cost far more (scripts.ts LUA_PIECES). */
export const MEMBER_MAX = 64;
/** Longest short entry id: 16 characters, ".", and a position below 1,000 in base 36. */
export const ID_MAX = 19;
/** Ends the display name of a word member that carries it cut. */
export const CUT_MARK = "\u0001";

/** Sorted-set members of the entry at `position` of an item (null if that entry was removed), in the generation's form. */
export function entryMembers(sku: string, record: ItemRecord, position: number, form: MemberForm = NEW_FORM): EntryMembers | null {
  const e = record.e[position];
  if (!e) return null;
  const [iso, displayName, originName] = e;
  const id = entryId(sku, position, form.ids);
  const display = phrase(displayName);
  const displayBytes = Buffer.byteLength(display);
  const length = lengthMark(display.length);
  const tail = `\u0000${id}`;
  const members: string[] = [];
  // Each word once, the display name's first (an entry has at most MAX_ENTRY_WORDS: a list does).
  const vocabulary: string[] = [];
  const addMember = (word: string, named: boolean) => {
    if (vocabulary.includes(word)) return;
    vocabulary.push(word);
    const head = named ? `${NAME_MARK}${word}\u0000${length}` : `${word}\u0000${length}`;
    // The head's bytes: the word's, and one each for the NUL and the marks' characters (all below U+0080).
    const headBytes = Buffer.byteLength(word) + 1 + length.length + (named ? NAME_MARK.length : 0);
    members.push(head + (form.cut ? fitting(headBytes, display, displayBytes) : display) + tail);
  };
  for (const w of words(displayName)) addMember(w, false);
  for (const w of words(record.n)) addMember(w, true);
  for (const w of words(originName)) addMember(w, true);
  return { iso: iso.toLowerCase(), phrase: display + tail, words: members, vocabulary };
}

/**
 * The display name as a word member whose head (word, marks) takes `headBytes` carries it: whole if it fits
 * MEMBER_MAX bytes with the longest entry id, else cut at a character to fit with CUT_MARK (whole
 * when even an empty name would not fit: such a member stays long). Depends only on head and name,
 * so every member of one word and name is cut alike. `displayBytes`: the name's UTF-8 length.
 */
function fitting(headBytes: number, display: string, displayBytes: number): string {
  const room = MEMBER_MAX - ID_MAX - 1 - headBytes;
  if (displayBytes <= room) return display;
  let left = room - CUT_MARK.length;
  if (left < 0) return display;
  let end = 0;
  while (end < display.length) {
    const unit = display.charCodeAt(end);
    const pair = isSurrogatePair(display, end);
    // The character's UTF-8 bytes (a lone surrogate is written as U+FFFD: 3).
    left -= pair ? 4 : unit < 0x80 ? 1 : unit < 0x800 ? 2 : 3;
    if (left < 0) break;
    end += pair ? 2 : 1;
  }
  return display.slice(0, end) + CUT_MARK;
}

function isSurrogatePair(text: string, at: number): boolean {
  const high = text.charCodeAt(at);
  const low = text.charCodeAt(at + 1);
  return high >= 0xd800 && high < 0xdc00 && low >= 0xdc00 && low < 0xe000;
}

/** A length as two characters from \x01 to \x1f (up to 960), ordered as the numbers are. */
function lengthMark(n: number): string {
  const v = Math.min(n, 31 * 31 - 1);
  return String.fromCharCode(1 + Math.floor(v / 31), 1 + (v % 31));
}

/** The vocabulary member of a word of a language's word members. */
export function vocabularyMember(word: string, iso: string): string {
  return `${word}\u0000${iso}`;
}

/** A vocabulary member's word, and its language (null: written before languages were kept, so any). */
export function parseVocabularyMember(member: string): { word: string; iso: string | null } {
  const nul = member.indexOf("\u0000");
  return nul < 0 ? { word: member, iso: null } : { word: member.slice(0, nul), iso: member.slice(nul + 1) };
}

/** Leads the word members of words an entry is found by only through its item's name or origin name. */
export const NAME_MARK = "\u0001";

interface ParsedMember {
  /** The word (word members) or the display name (phrase members). */
  key: string;
  /** The normalised display name, or its start when `cut`. */
  phrase: string;
  /** The member carries only the start of the display name (CUT_MARK). */
  cut: boolean;
  /** The display name's length as its length mark gives it (up to 960), or null when the member has none. */
  length: number | null;
  /** The entry id's item part (splitEntryId): its sku as the id writes it. */
  item: string;
  position: number;
  id: string;
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
  if (first === last) return { key, phrase: key, cut: false, length: null, item: parsed.item, position: parsed.position, id };
  // The length mark, when there is one: a display name starts with a letter or digit.
  const marked = member.charCodeAt(first + 1) < 0x20;
  const length = marked ? (member.charCodeAt(first + 1) - 1) * 31 + member.charCodeAt(first + 2) - 1 : null;
  const display = member.slice(marked ? first + 3 : first + 1, last);
  const cut = display.endsWith(CUT_MARK);
  return { key, phrase: cut ? display.slice(0, -CUT_MARK.length) : display, cut, length, item: parsed.item, position: parsed.position, id };
}
