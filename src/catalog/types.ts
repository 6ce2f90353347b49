export const ITEM_TYPES = ["categories", "boxes", "options"] as const;
export type ItemType = (typeof ITEM_TYPES)[number];

/** The name a type has in Redis keys and in search, as the old service called it. */
export const SEARCH_NAME: Record<ItemType, string> = {
  categories: "category",
  boxes: "box",
  options: "option",
};

/** One searchable (item, language, display name), as SPEC §1 defines it. */
export interface Entry {
  sku: string;
  linked: string;
  name: string;
  display_name: string;
  iso: string;
  origin_name: string;
  slug: string;
}

export const SKIP_REASONS = [
  "id_not_object_id",
  "display_name_missing",
  "display_name_not_array",
  "display_name_element_not_object",
  "display_name_empty",
  "display_name_not_string",
  "linked_missing",
  "linked_invalid",
  "linked_unknown_origin",
  "name_missing",
  "slug_missing",
] as const;
export type SkipReason = (typeof SKIP_REASONS)[number];
