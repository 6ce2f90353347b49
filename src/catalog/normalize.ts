// Text normalisation for search: case- and accent-insensitive, split into words.
// The same function runs on indexed text and on queries, so they always agree.

// Letters that NFKD does not decompose into a base letter plus marks.
const FOLD: Record<string, string> = {
  ß: "ss",
  ẞ: "ss",
  ł: "l",
  Ł: "l",
  ø: "o",
  Ø: "o",
  æ: "ae",
  Æ: "ae",
  œ: "oe",
  Œ: "oe",
  đ: "d",
  Đ: "d",
  ð: "d",
  Ð: "d",
  þ: "th",
  Þ: "th",
  ħ: "h",
  Ħ: "h",
  ı: "i",
  ŀ: "l",
  Ŀ: "l",
};
const FOLD_RE = new RegExp(`[${Object.keys(FOLD).join("")}]`, "g");
const MARKS_RE = /\p{M}+/gu;
const SEPARATORS_RE = /[^\p{L}\p{N}]+/gu;

// Catalog text repeats a lot (an item's name appears with each of its entries), so recent
// results are kept; the map is emptied when full, which bounds its memory.
const CACHE_LIMIT = 20_000;
const cache = new Map<string, string[]>();

/** Lower-case, accent-free words of `text`. Callers must not modify the returned array. */
export function words(text: string): string[] {
  let out = cache.get(text);
  if (out === undefined) {
    if (cache.size >= CACHE_LIMIT) cache.clear();
    out = splitWords(text);
    cache.set(text, out);
  }
  return out;
}

function splitWords(text: string): string[] {
  const folded = text
    .replace(FOLD_RE, (c) => FOLD[c] ?? c)
    .toLowerCase()
    .normalize("NFKD")
    .replace(MARKS_RE, "");
  return folded.split(SEPARATORS_RE).filter(Boolean);
}

/** The whole text normalised: its words joined by single spaces. */
export function phrase(text: string): string {
  return words(text).join(" ");
}
