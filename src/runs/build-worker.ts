// The entry of the build worker (build-thread.ts). The binary bundles it as a second entry point
// (package.json "build"); src/main.ts names it to start it.
import { serveBuilds } from "./build-thread.ts";

serveBuilds();
