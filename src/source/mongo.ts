// Reading the catalog from MongoDB: streaming cursors with projections, one batch at a time.
// FerretDB v1 pushes down only `{ _id: value }` filters, so every read here is a plain scan.
import { type Db, type Document, type FindCursor, MongoClient, MongoError, MongoServerError } from "mongodb";
import { withTimeout } from "../platform/timeouts.ts";

/**
 * The driver keeps a read's documents as the server sent them (BSON) and decodes each when it is
 * taken: taking them this many at a time, a read of SYNC_BATCH_SIZE documents (1,000 by default)
 * never has all its documents decoded at once, which a run's peak memory follows.
 */
const DECODED_AT_ONCE = 100;

export const ORIGIN_PROJECTION = { name: 1, slug: 1, display_name: 1 } as const;
export const SUPPLIER_PROJECTION = { linked: 1, display_name: 1 } as const;

export function createMongoClient(uri: string): MongoClient {
  return new MongoClient(uri, {
    serverSelectionTimeoutMS: 2_000,
    connectTimeoutMS: 2_000,
    socketTimeoutMS: 60_000,
    appName: "search-sync",
  });
}

/** A read that got no answer at all within this long fails (the driver's own socket timeout may never fire, see below). */
export const READ_TIMEOUT_MS = 30_000;

class ReadTimeoutError extends Error {
  override name = "ReadTimeoutError";
}

function withinReadTimeout<T>(what: string, promise: Promise<T>, ms = READ_TIMEOUT_MS): Promise<T> {
  return withTimeout(promise, ms, () => {
    throw new ReadTimeoutError(`MongoDB did not answer ${what} within ${ms / 1000} s`);
  });
}

/** A failure of the connection or of the client itself, not an answer of the server. */
function connectionProblem(err: unknown): boolean {
  return err instanceof ReadTimeoutError || (err instanceof MongoError && !(err instanceof MongoServerError));
}

export class CatalogSource {
  private client: MongoClient;

  /**
   * `newClient` (optional) makes the source replace its client after a connection problem: when
   * the server dies while the driver writes a command, the driver (on Bun) can leave that command
   * waiting forever, its server monitor's heartbeat included; the client then never notices that
   * the server is back, and every later read fails with the old error. A new client starts over.
   */
  constructor(
    client: MongoClient,
    private readonly dbName: string,
    private readonly newClient?: () => MongoClient,
  ) {
    this.client = client;
  }

  get db(): Db {
    return this.client.db(this.dbName);
  }

  /**
   * Connects if not connected. The driver does not reconnect by itself after a first connection
   * failed ("Topology is closed"), so every read starts here; it costs nothing when connected.
   */
  private async connected(): Promise<Db> {
    await this.client.connect();
    return this.db;
  }

  /** Replaces the client after a connection problem (see the constructor); true if it did. */
  private renew(err: unknown, used: MongoClient): boolean {
    if (!this.newClient || !connectionProblem(err)) return false;
    // Another read may have renewed it already.
    if (this.client === used) {
      this.client = this.newClient();
      void used.close(true).catch(() => {});
    }
    return true;
  }

  /** Runs `read` with the current client; after a connection problem, renews the client and rethrows. */
  private async guarded<T>(what: string, read: () => Promise<T>): Promise<T> {
    const used = this.client;
    try {
      return await withinReadTimeout(what, read());
    } catch (err) {
      this.renew(err, used);
      throw err;
    }
  }

  async ping(): Promise<void> {
    await this.guarded("ping", async () => {
      await (await this.connected()).command({ ping: 1 });
    });
  }

  /**
   * Document count from collection statistics; may be approximate. collStats first: FerretDB
   * answers estimatedDocumentCount by counting every document.
   */
  async estimate(collection: string): Promise<number> {
    return this.guarded(`the size of ${collection}`, async () => {
      const db = await this.connected();
      try {
        const stats = await db.command({ collStats: collection });
        if (typeof stats.count === "number") return stats.count;
      } catch (err) {
        if (connectionProblem(err)) throw err;
        // not supported here: fall back
      }
      return db.collection(collection).estimatedDocumentCount();
    });
  }

  /**
   * Every document of `collection`, projected: read `batchSize` at a time, handed out in batches
   * of at most DECODED_AT_ONCE. A connection problem before the first batch renews the client and
   * tries once more (nothing was read yet).
   */
  async *batches(collection: string, projection: Document, batchSize: number): AsyncGenerator<Document[]> {
    for (let attempt = 1; ; attempt++) {
      const used = this.client;
      let cursor: FindCursor | null = null;
      let yielded = false;
      try {
        const db = await withinReadTimeout("a connection", this.connected());
        cursor = db.collection(collection).find({}, { projection, batchSize });
        while (await withinReadTimeout(`a read of ${collection}`, cursor.hasNext())) {
          const batch = cursor.readBufferedDocuments(DECODED_AT_ONCE);
          if (batch.length === 0) batch.push((await cursor.next())!);
          yielded = true;
          yield batch;
        }
        return;
      } catch (err) {
        if (!this.renew(err, used) || yielded || attempt > 1) throw err;
      } finally {
        // Bounded: closing a cursor whose connection is stuck may never finish either.
        if (cursor) await withTimeout(cursor.close(), 1_000, () => {}).catch(() => {});
      }
    }
  }

  /** Closes the client in use (after a renewal, not the one passed in). */
  async close(): Promise<void> {
    await this.client.close().catch(() => {});
  }
}
