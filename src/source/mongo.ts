// Reading the catalog from MongoDB: streaming cursors with projections, one batch at a time.
// FerretDB v1 pushes down only `{ _id: value }` filters, so every read here is a plain scan.
import { MongoClient, type Db, type Document } from "mongodb";

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

export class CatalogSource {
  constructor(
    private readonly client: MongoClient,
    private readonly dbName: string,
  ) {}

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

  async ping(): Promise<void> {
    await (await this.connected()).command({ ping: 1 });
  }

  /**
   * Document count from collection statistics; may be approximate. collStats first: FerretDB
   * answers estimatedDocumentCount by counting every document.
   */
  async estimate(collection: string): Promise<number> {
    const db = await this.connected();
    try {
      const stats = await db.command({ collStats: collection });
      if (typeof stats.count === "number") return stats.count;
    } catch {
      // not supported here: fall back
    }
    return db.collection(collection).estimatedDocumentCount();
  }

  /** Every document of `collection`, projected, in batches of about `batchSize`. */
  async *batches(collection: string, projection: Document, batchSize: number): AsyncGenerator<Document[]> {
    const cursor = (await this.connected()).collection(collection).find({}, { projection, batchSize });
    try {
      while (await cursor.hasNext()) {
        const batch = cursor.readBufferedDocuments();
        if (batch.length === 0) batch.push((await cursor.next())!);
        yield batch;
      }
    } finally {
      await cursor.close().catch(() => {});
    }
  }
}
