import { defineConfig } from "drizzle-kit";

export default defineConfig({
  dialect: "sqlite",
  schema: "./src/history/schema.ts",
  out: "./drizzle",
});
