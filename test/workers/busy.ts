// A build worker whose second batch of MongoDB documents keeps its thread busy (a synchronous
// loop, no await) for as long as `<DATA_SET_FILE>.release` does not exist; it creates
// `<DATA_SET_FILE>.busy` when it starts looping.
import { existsSync, writeFileSync } from "node:fs";
import type { Document } from "mongodb";
import { serveBuilds } from "../../src/runs/build-thread.ts";
import { CatalogSource } from "../../src/source/mongo.ts";

serveBuilds((client, config) => {
  const [busy, release] = [`${config.dataSetFile}.busy`, `${config.dataSetFile}.release`];
  let served = 0;
  return new (class extends CatalogSource {
    override async *batches(collection: string, projection: Document, batchSize: number): AsyncGenerator<Document[]> {
      for await (const batch of super.batches(collection, projection, batchSize)) {
        if (served++ === 1 && !existsSync(release)) {
          writeFileSync(busy, "");
          while (!existsSync(release)) Math.sqrt(Math.random());
        }
        yield batch;
      }
    }
  })(client, config.dbName);
});
