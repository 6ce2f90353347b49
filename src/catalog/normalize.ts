// Text normalisation for search: case- and accent-insensitive, split into words.
// The same function runs on indexed text and on queries, so they always agree.

// Letters that NFKD does not decompose into a base letter plus marks.
const FOLD: Record<string, string> = {
  ß: "ss", ẞ: "ss", ł: "l", Ł: "l", ø: "o", Ø: "o", æ: "ae", Æ: "ae", œ: "oe", Œ: "oe",
  đ: "d", Đ: "d", ð: "d", Ð: "d", þ: "th", Þ: "th", ħ: "h", Ħ: "h", ı: "i", ŀ: "l", Ŀ: "l",
};
const FOLD_RE = new RegExp(`[${Object.keys(FOLD).join("")}]`, "g");
const MARKS_RE = /\p{M}+/gu;
const SEPARATORS_RE = /[^\p{L}\p{N}]+/gu;

/** Lower-case, accent-free words of `text`. */
export function words(text: string): string[] {
  const folded = text.replace(FOLD_RE, (c) => FOLD[c] ?? c).toLowerCase().normalize("NFKD").replace(MARKS_RE, "");
  return folded.split(SEPARATORS_RE).filter(Boolean);
}

/** The whole text normalised: its words joined by single spaces. */
export function phrase(text: string): string {
  return words(text).join(" ");
}
