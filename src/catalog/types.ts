import { t } from "elysia";

export const ITEM_TYPES = ["categories", "boxes", "options"] as const;
export type ItemType = (typeof ITEM_TYPES)[number];

/** The name a type has in Redis keys and in search, as the old service called it. */
export const SEARCH_NAME: Record<ItemType, string> = {
  categories: "category",
  boxes: "box",
  options: "option",
};

/** One searchable (item, language, display name), as docs/spec.md §1 defines it. */
export const EntrySchema = t.Object({
  sku: t.String(),
  name: t.String(),
  display_name: t.String(),
  origin_name: t.String(),
  iso: t.String(),
  slug: t.String(),
  linked: t.String(),
});
export type Entry = typeof EntrySchema.static;

/** A language code as requests and documents may give it: `en`, `nl`, `pt-br`, `pt_BR`, `zh-Hant-TW`. */
export const ISO_PATTERN = "^[A-Za-z0-9_-]{2,35}$";
export const ISO_RULE = "2-35 letters, digits, '-' or '_'";

export const SKIP_REASONS = [
  "id_not_object_id",
  "display_name_missing",
  "display_name_not_array",
  "display_name_element_not_object",
  "display_name_empty",
  "display_name_not_string",
  "iso_invalid",
  "linked_missing",
  "linked_invalid",
  "linked_unknown_origin",
  "name_missing",
  "slug_missing",
  "name_too_long",
  "display_name_too_long",
  "too_many_words",
  "too_many_entries",
] as const;
export type SkipReason = (typeof SKIP_REASONS)[number];
