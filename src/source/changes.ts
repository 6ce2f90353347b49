// What the change follower reads from MongoDB: one collection's change stream, and one item's
// documents. Only real MongoDB has change streams (a replica set, even of one node): FerretDB and a
// standalone mongod refuse them, which changeStreamsUnsupported() recognises.
import { type ChangeStream, type ChangeStreamDocument, type Db, type Document, MongoServerError, ObjectId, type ResumeToken } from "mongodb";
import { objectIdHex } from "../catalog/entries.ts";
import { ORIGIN_PROJECTION, SUPPLIER_PROJECTION } from "./mongo.ts";

/** Events read from one stream before they are applied: bounds the follower's memory under a burst. */
export const CHANGE_BATCH = 100;
/** How long the server may hold a read of an idle stream open (an event ends the wait at once). */
const MAX_AWAIT_MS = 500;

// Server errors that mean "this server has no change streams": NotImplemented (FerretDB), the
// replica-set-only error of a standalone mongod, an unknown pipeline stage, CommandNotSupported.
const UNSUPPORTED_CODES = new Set([238, 40573, 40324, 115]);

export type ChangeEvent = ChangeStreamDocument<Document>;

/**
 * A collection's change stream from `resumeAfter` or from now. With `documents`, each event brings
 * the document as it is now (a supplier's: where it links); without, only its `_id` (an origin's
 * documents are read again when its events are applied), which keeps a burst's events small.
 */
export function openChangeStream(db: Db, collection: string, documents: boolean, resumeAfter?: ResumeToken): ChangeStream<Document, ChangeEvent> {
  const pipeline = documents ? [] : [{ $project: { fullDocument: 0, updateDescription: 0 } }];
  return db.collection(collection).watch(pipeline, {
    ...(documents ? { fullDocument: "updateLookup" } : {}),
    batchSize: CHANGE_BATCH,
    maxAwaitTimeMS: MAX_AWAIT_MS,
    ...(resumeAfter ? { resumeAfter } : {}),
  });
}

/** The server's reason when `err` says it has no change streams; null for any other error. */
export function changeStreamsUnsupported(err: unknown): string | null {
  if (!(err instanceof MongoServerError)) return null;
  return UNSUPPORTED_CODES.has(Number(err.code)) ? err.message : null;
}

/** Opens a stream on `collection` and closes it: null when the server has change streams, else its reason. Throws on other errors. */
export async function probeChangeStreams(db: Db, collection: string): Promise<string | null> {
  const stream = openChangeStream(db, collection, true);
  try {
    await stream.tryNext();
    return null;
  } catch (err) {
    const reason = changeStreamsUnsupported(err);
    if (reason) return reason;
    throw err;
  } finally {
    await stream.close().catch(() => {});
  }
}

// The values an origin `_id` or a supplier's `linked` may hold for one origin: the ObjectId or its
// hex text, in lower or upper case (docs/spec.md §1 allows both forms of `linked`; objectIdHex
// takes no other).
function idForms(sku: string): unknown[] {
  return [new ObjectId(sku), sku, sku.toUpperCase()];
}

/**
 * Items' documents as they are now, by sku: the origin (null when there is none) and every supplier
 * linked to it. Two reads for the whole batch; the supplier read uses `linked`: an index on it
 * keeps it one lookup (see README).
 */
export async function itemsDocuments(
  db: Db,
  names: { origin: string; supplier: string },
  skus: string[],
): Promise<Map<string, { origin: Document | null; suppliers: Document[] }>> {
  const items = new Map(skus.map((sku) => [sku, { origin: null as Document | null, suppliers: [] as Document[] }]));
  if (!skus.length) return items;
  const origins = await db
    .collection(names.origin)
    .find({ _id: { $in: skus.flatMap(idForms) } } as Document, { projection: ORIGIN_PROJECTION })
    .toArray();
  for (const origin of origins) {
    const item = items.get(objectIdHex(origin._id) ?? "");
    if (item && !item.origin) item.origin = origin;
  }
  const found = skus.filter((sku) => items.get(sku)!.origin);
  if (!found.length) return items;
  const suppliers = await db
    .collection(names.supplier)
    .find({ linked: { $in: found.flatMap(idForms) } }, { projection: SUPPLIER_PROJECTION })
    .toArray();
  for (const supplier of suppliers) items.get(objectIdHex(supplier.linked) ?? "")?.suppliers.push(supplier);
  return items;
}
