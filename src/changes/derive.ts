// What a change means for the index, from documents alone. Pure: no I/O.
import type { Document } from "mongodb";
import { addDisplayNames, docIdText, idText, objectIdHex, originRecord, SkipTally, supplierLink, validDisplayNames } from "../catalog/entries.ts";
import type { PushOp } from "../index/push-plan.ts";
import type { ChangeEvent } from "../source/changes.ts";

/**
 * The per-item update that makes one item exactly what a full run would build from these documents:
 * all its entries replaced by the origin's names and its suppliers' (as the run's build does it,
 * so the origin names, order of precedence and de-duplication are the same), or removed when the
 * origin is gone.
 */
export function itemUpdate(sku: string, origin: Document | null, suppliers: Document[]): PushOp {
  // Skips are counted by full runs; here they only leave names out, as the run does.
  const tally = new SkipTally();
  const built = origin ? originRecord(origin, tally) : null;
  if (!built) return { op: "remove", item: { linked: sku } };
  const { record } = built;
  for (const doc of suppliers) {
    if (supplierLink(doc, tally) === sku) addDisplayNames(record, validDisplayNames(doc.display_name, docIdText(doc), tally));
  }
  const display_names = record.e.flatMap((e) => (e ? [{ iso: e[0], display_name: e[1] }] : []));
  return { op: "replace", source: { linked: sku }, target: { linked: sku, name: record.n, slug: record.s, origin_names: record.o, display_names } };
}

/** The origin sku an origin event is about, or null when its `_id` cannot be one (a full run skips it too). */
export function originOf(event: ChangeEvent): string | null {
  return "documentKey" in event ? objectIdHex((event.documentKey as { _id?: unknown })._id) : null;
}

/** The supplier `_id` (supplierKey) an event is about. */
export function supplierOf(event: ChangeEvent): string | null {
  return "documentKey" in event ? supplierKey((event.documentKey as { _id?: unknown })._id) : null;
}

/**
 * A supplier `_id` as the follower keeps its link: an ObjectId as its hex, anything else as JSON,
 * so an ObjectId and its hex text (two documents) are two suppliers.
 */
export function supplierKey(id: unknown): string {
  return (typeof id === "object" && objectIdHex(id)) || idText(id);
}

/**
 * Where a supplier links at the time of the event: a sku, null (nowhere: deleted, `linked` unusable
 * or removed), or undefined when the event does not say (an update that left `linked` alone).
 */
export function linkAtEvent(event: ChangeEvent): string | null | undefined {
  switch (event.operationType) {
    case "insert":
    case "replace":
      return objectIdHex(event.fullDocument?.linked);
    case "delete":
      return null;
    case "update": {
      const description = event.updateDescription;
      if (description?.updatedFields && "linked" in description.updatedFields) return objectIdHex(description.updatedFields.linked);
      if (description?.removedFields?.includes("linked")) return null;
      if (description) return undefined;
      // A server that sends no update description (the test server): the looked-up document, if it has the field.
      return event.fullDocument && "linked" in event.fullDocument ? objectIdHex(event.fullDocument.linked) : undefined;
    }
    default:
      return undefined;
  }
}

/** Where the supplier links now, from the document looked up with the event (null: not known). */
export function linkNow(event: ChangeEvent): string | null {
  return "fullDocument" in event && event.fullDocument ? objectIdHex(event.fullDocument.linked) : null;
}
