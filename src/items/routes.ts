// Push updates: add, replace or remove one item's entries in the serving index between runs.
import { Elysia, t } from "elysia";
import { MAX_TEXT_CHARS } from "../catalog/entries.ts";
import { ISO_PATTERN, ISO_RULE, type ItemType, SEARCH_NAME } from "../catalog/types.ts";
import { type PushOp, PushRefused } from "../index/push-plan.ts";
import type { IndexStore } from "../index/store.ts";
import { applyPush } from "../index/update.ts";
import { type AdminConfig, adminGuard, type ClientIp } from "../platform/http/admin.ts";
import { ApiError } from "../platform/http/errors.ts";
import { Integer, responses } from "../platform/http/openapi.ts";

const ObjectIdHex = (field: string) =>
  t.String({
    pattern: "^[0-9a-fA-F]{24}$",
    description: "the origin item's _id (24 hex characters)",
    examples: ["65a1f0c2e4b0a1b2c3d4e5f6"],
    error: `${field}: must be an ObjectId as 24 hex characters`,
  });
const DisplayNames = (field: string) =>
  t.Array(
    t.Object(
      {
        iso: t.String({ pattern: ISO_PATTERN, examples: ["en"], error: `${field}.iso: must be ${ISO_RULE}, e.g. en` }),
        // Not blank: a run skips a blank display name (display_name_empty).
        display_name: t.String({
          pattern: "\\S",
          maxLength: MAX_TEXT_CHARS,
          examples: ["Mailer box"],
          error: `${field}.display_name: must be a string of at most ${MAX_TEXT_CHARS} characters, not blank`,
        }),
      },
      { additionalProperties: false, error: `${field}: must be an array of {iso, display_name} objects` },
    ),
    { minItems: 1, maxItems: 500, error: `${field}: must be an array of 1-500 {iso, display_name} objects` },
  );
const Text = (field: string, description: string, example: string) =>
  t.String({ maxLength: MAX_TEXT_CHARS, description, examples: [example], error: `${field}: must be a string of at most ${MAX_TEXT_CHARS} characters` });

const Stamp = (field: string) => t.Optional(t.String({ description: "accepted and not used", error: `${field}: must be a string` }));

const addBody = (at = "") =>
  t.Object(
    {
      linked: ObjectIdHex(`${at}linked`),
      slug: Text(`${at}slug`, "the item's slug", "mailer-box"),
      origin_name: Text(`${at}origin_name`, "the origin's display name, shown with every added entry", "Mailer box"),
      display_names: DisplayNames(`${at}display_names`),
      name: t.Optional(Text(`${at}name`, "the origin's name", "mailer box")),
      created_at: Stamp(`${at}created_at`),
      updated_at: Stamp(`${at}updated_at`),
    },
    { additionalProperties: false, error: `${at || "body"}: must be an object with linked, slug, origin_name and display_names` },
  );
// The replaced service's clients send the whole item to remove (as `source` of a replace, too): its
// other fields are taken and not used. Any field beyond those is refused.
const removeBody = (at = "") =>
  t.Object(
    {
      linked: ObjectIdHex(`${at}linked`),
      display_names: t.Optional(DisplayNames(`${at}display_names`)),
      slug: t.Optional(Text(`${at}slug`, "accepted and not used", "mailer-box")),
      origin_name: t.Optional(Text(`${at}origin_name`, "accepted and not used", "Mailer box")),
      name: t.Optional(Text(`${at}name`, "accepted and not used", "mailer box")),
      created_at: Stamp(`${at}created_at`),
      updated_at: Stamp(`${at}updated_at`),
    },
    { additionalProperties: false, error: `${at || "body"}: must be an object with linked and optional display_names` },
  );
const AddBody = addBody();
const RemoveBody = removeBody();
const ReplaceBody = t.Object(
  { source: removeBody("source."), target: addBody("target.") },
  { additionalProperties: false, error: "body: must be an object with source and target" },
);

type AddInput = typeof AddBody.static;
type RemoveInput = typeof RemoveBody.static;

const lower = (hex: string) => hex.toLowerCase();
const addItem = (b: AddInput) => ({ linked: lower(b.linked), slug: b.slug, name: b.name, origin_name: b.origin_name, display_names: b.display_names });
const removeItem = (b: RemoveInput) => ({ linked: lower(b.linked), display_names: b.display_names });

const PATHS: Record<ItemType, string> = { categories: "/categories", boxes: "/boxes", options: "/options" };

// The replaced service's answers, field for field (its clients read `status` and `<name>_id`);
// ours (type, added, removed) go alongside. `name` is the singular: category, box, option.
const titled = (name: string) => name[0]!.toUpperCase() + name.slice(1);
const addResult = (name: string, linked: string) => ({ message: `${titled(name)} added successfully`, [`${name}_id`]: linked, status: "success" });
const deleteResult = (name: string, linked: string, removed: number) =>
  removed
    ? { message: `${titled(name)} entries deleted successfully`, linked, deleted_count: removed, status: "success" }
    : { message: `No matching ${name} entries found in search engine`, linked, deleted_count: 0, status: "not_found" };

// The answers' shapes, for the OpenAPI document: the replaced service's fields, then ours.
const applied = {
  type: t.String({ examples: ["boxes"] }),
  added: Integer({ description: "entries added" }),
  removed: Integer({ description: "entries removed" }),
};
const replacedAnswer = t.Object({ message: t.String(), status: t.String({ description: "success" }) }, { description: "`<name>_id`: the item's linked id" });
const deleteAnswer = {
  message: t.String(),
  linked: t.String(),
  deleted_count: Integer(),
  status: t.String({ description: "success, or not_found when the item had no entries" }),
};
const ANSWERS = {
  add: t.Object({ message: t.String(), status: t.Literal("success"), data: replacedAnswer, ...applied }),
  replace: t.Object({ message: t.String(), status: t.Literal("success"), delete_result: t.Object(deleteAnswer), add_result: replacedAnswer, ...applied }),
  remove: t.Object({ ...deleteAnswer, ...applied }),
};
const ERRORS = ["bad_request", "payload_too_large", "unsupported_media_type", "invalid_request", "index_unavailable", "not_ready"] as const;

export function itemRoutes(store: IndexStore, config: AdminConfig, clientIp?: ClientIp) {
  const admin = adminGuard(config, clientIp);
  const apply = async (type: ItemType, op: PushOp) => {
    let outcome: Awaited<ReturnType<typeof applyPush>>;
    try {
      outcome = await applyPush(store, type, op, "serving");
    } catch (err) {
      if (err instanceof PushRefused) throw new ApiError("invalid_request", err.message, { field: err.field });
      throw new ApiError("index_unavailable", `the index cannot be updated right now: ${(err as Error).message}`);
    }
    if (!outcome.applied) throw new ApiError("not_ready", `no ${type} index has been published yet; run a sync first`);
    return { type, added: outcome.added, removed: outcome.removed };
  };
  // parse: "json" tells the OpenAPI document the body is JSON; the parser that runs is limits.ts's (size and depth capped).
  const app = new Elysia({ name: "item-routes", normalize: false });
  for (const [type, path] of Object.entries(PATHS) as [ItemType, string][]) {
    const detail = (summary: string, op: keyof typeof ANSWERS) => ({
      summary,
      tags: ["push updates"],
      responses: responses({ 200: { description: "applied to the serving index", schema: ANSWERS[op] } }, ERRORS),
    });
    const name = SEARCH_NAME[type];
    app
      .post(
        path,
        async ({ body }) => {
          const done = await apply(type, { op: "add", item: addItem(body) });
          return { message: `${titled(name)} added to search engine successfully`, status: "success", data: addResult(name, body.linked), ...done };
        },
        {
          body: AddBody,
          parse: "json",
          beforeHandle: admin,
          detail: detail(`Add entries of one item to the ${type} index`, "add"),
        },
      )
      .put(
        path,
        async ({ body }) => {
          const done = await apply(type, { op: "replace", source: removeItem(body.source), target: addItem(body.target) });
          return {
            message: `${titled(name)} updated (delete-then-insert)`,
            status: "success",
            delete_result: deleteResult(name, body.source.linked, done.removed),
            add_result: addResult(name, body.target.linked),
            ...done,
          };
        },
        {
          body: ReplaceBody,
          parse: "json",
          beforeHandle: admin,
          detail: detail(`Replace one item's ${type} entries by another's, atomically`, "replace"),
        },
      )
      .delete(
        path,
        async ({ body }) => {
          const done = await apply(type, { op: "remove", item: removeItem(body) });
          return { ...deleteResult(name, body.linked, done.removed), ...done };
        },
        {
          body: RemoveBody,
          parse: "json",
          beforeHandle: admin,
          detail: detail(`Remove entries (or all entries) of one item from the ${type} index`, "remove"),
        },
      );
  }
  return app;
}
