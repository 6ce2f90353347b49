import { defineConfig } from "drizzle-kit";

export default defineConfig({
  dialect: "sqlite",
  schema: "./src/runs/history/schema.ts",
  out: "./drizzle",
});
