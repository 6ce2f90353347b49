// A build worker that dies of an uncaught exception at its second batch of MongoDB documents.
import type { Document } from "mongodb";
import { serveBuilds } from "../../src/runs/build-thread.ts";
import { CatalogSource } from "../../src/source/mongo.ts";

serveBuilds(
  (client, config) =>
    new (class extends CatalogSource {
      override async *batches(collection: string, projection: Document, batchSize: number): AsyncGenerator<Document[]> {
        let served = 0;
        for await (const batch of super.batches(collection, projection, batchSize)) {
          if (served++ === 1) {
            setTimeout(() => {
              throw new Error("hostile document");
            });
            await new Promise(() => {});
          }
          yield batch;
        }
      }
    })(client, config.dbName),
);
