// What the change follower reads from MongoDB: one collection's change stream, and one item's
// documents. Only real MongoDB has change streams (a replica set, even of one node): FerretDB and a
// standalone mongod refuse them, which changeStreamsUnsupported() recognises.
import { type ChangeStream, type ChangeStreamDocument, type Db, type Document, MongoServerError, ObjectId, type ResumeToken } from "mongodb";
import { ORIGIN_PROJECTION, SUPPLIER_PROJECTION } from "./mongo.ts";

/** Events read from one stream before they are applied: bounds the follower's memory under a burst. */
export const CHANGE_BATCH = 100;
/** How long the server may hold a read of an idle stream open (an event ends the wait at once). */
const MAX_AWAIT_MS = 500;

// Server errors that mean "this server has no change streams": NotImplemented (FerretDB), the
// replica-set-only error of a standalone mongod, an unknown pipeline stage, CommandNotSupported.
const UNSUPPORTED_CODES = new Set([238, 40573, 40324, 115]);

export type ChangeEvent = ChangeStreamDocument<Document>;

/** A collection's change stream with the current document on updates, from `resumeAfter` or from now. */
export function openChangeStream(db: Db, collection: string, resumeAfter?: ResumeToken): ChangeStream<Document, ChangeEvent> {
  return db.collection(collection).watch([], {
    fullDocument: "updateLookup",
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
  const stream = openChangeStream(db, collection);
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
// hex text (in either case; docs/spec.md §1 allows both forms of `linked`).
function idForms(sku: string): unknown[] {
  return [new ObjectId(sku), sku, sku.toUpperCase()];
}

/**
 * One item's documents as they are now: its origin (null when there is none) and every supplier
 * linked to it. The supplier read uses `linked`: an index on it keeps this one lookup (see README).
 */
export async function itemDocuments(
  db: Db,
  names: { origin: string; supplier: string },
  sku: string,
): Promise<{ origin: Document | null; suppliers: Document[] }> {
  const origin = await db.collection(names.origin).findOne({ _id: { $in: idForms(sku) } } as Document, { projection: ORIGIN_PROJECTION });
  if (!origin) return { origin: null, suppliers: [] };
  const suppliers = await db
    .collection(names.supplier)
    .find({ linked: { $in: idForms(sku) } }, { projection: SUPPLIER_PROJECTION })
    .toArray();
  return { origin, suppliers };
}
