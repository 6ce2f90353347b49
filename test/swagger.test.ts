// /swagger works offline: the page and its assets come from the service itself, at a pinned
// version, so Swagger UI renders in a browser that can reach nothing else (as on a VM without
// internet). Headless Debian Chromium through playwright-core, every other host refused.
import { afterAll, beforeAll, expect, test } from "bun:test";
import swaggerPackage from "swagger-ui-dist/package.json";
import { type App, createApp } from "../src/app/http.ts";
import { type Browser, launchBrowser } from "./browser.ts";
import { createContext, type TestContext } from "./helpers.ts";

let ctx: TestContext;
let app: App;
let origin: string;
let browser: Browser;

beforeAll(async () => {
  ctx = await createContext("swagger");
  const services = await ctx.services();
  app = createApp({ ...services, version: "9.8.7", startedAt: new Date() });
  app.listen({ hostname: "127.0.0.1", port: 0 });
  origin = `http://127.0.0.1:${app.server!.port}`;
  browser = await launchBrowser();
});

afterAll(async () => {
  await browser?.close();
  await app?.stop();
  await ctx?.cleanup();
});

test("the page names only its own assets, at the pinned swagger-ui-dist version", async () => {
  const html = await (await fetch(`${origin}/swagger`)).text();
  expect(html).not.toMatch(/https?:\/\//);
  expect([...html.matchAll(/(?:href|src)="([^"]+)"/g)].map((m) => m[1])).toEqual(["/swagger/assets/swagger-ui.css", "/swagger/assets/swagger-ui-bundle.js"]);
  const js = await (await fetch(`${origin}/swagger/assets/swagger-ui-bundle.js`)).text();
  expect(swaggerPackage.version).toBe("5.35.0");
  expect(js.length).toBeGreaterThan(500_000);
  expect((await fetch(`${origin}/swagger/assets/swagger-ui.css`)).headers.get("content-type")).toBe("text/css; charset=utf-8");
});

for (const path of ["/swagger", "/swagger/"]) {
  test(`${path} renders Swagger UI with every other host unreachable`, async () => {
    const page = await browser.context.newPage();
    const elsewhere: string[] = [];
    await page.route("**/*", (route) => {
      if (route.request().url().startsWith(origin)) return route.continue();
      elsewhere.push(route.request().url());
      return route.abort();
    });
    await page.goto(`${origin}${path}`);
    await page.waitForSelector(".swagger-ui .info .title", { timeout: 20_000 });
    expect(await page.locator(".swagger-ui .info .title").textContent()).toContain("search-sync");
    expect(await page.locator(".opblock-summary-path").count()).toBeGreaterThan(20);
    // The admin operations' security schemes give the page its Authorize button.
    expect(await page.locator(".swagger-ui button.authorize").count()).toBeGreaterThan(0);
    expect(elsewhere).toEqual([]);
    await page.close();
  });
}
