// What a push update writes: a replace leaves the members it would remove and add again alone.
import { expect, test } from "bun:test";
import type { ItemRecord } from "../src/catalog/entries.ts";
import { planPush } from "../src/index/push-plan.ts";

const SKU = "65f0010000000000000000aa";
const names = [
  { iso: "en", display_name: "Mailer box" },
  { iso: "de", display_name: "Versandkarton" },
  { iso: "nl", display_name: "Verzenddoos" },
];
const item = (display_names: typeof names) => ({ linked: SKU, name: "Mailer boxes", slug: "mailer-boxes", display_names });

/** The record an add of `names` makes, as the index holds it. */
function recordOf(display_names: typeof names): ItemRecord {
  return planPush({ op: "add", item: item(display_names) }, new Map([[SKU, null]])).records.get(SKU)!;
}

test("a replace by the same item changes no member; by one other name, only that entry's members", () => {
  const current = new Map([[SKU, recordOf(names)]]);
  const same = planPush({ op: "replace", source: { linked: SKU }, target: item(names) }, current);
  expect(same.changes.filter(([kind]) => kind !== "v")).toEqual([]);
  expect([same.removed, same.added, same.entriesDelta]).toEqual([3, 3, 0]);
  expect(same.records.get(SKU)).toEqual(recordOf(names));

  const renamed = [names[0]!, { iso: "de", display_name: "Faltkarton" }, names[2]!];
  const one = planPush({ op: "replace", source: { linked: SKU }, target: item(renamed) }, current);
  const written = one.changes.filter(([kind]) => kind !== "v");
  expect(written.length).toBeGreaterThan(0);
  // Every member written is of the German entry, removed for the old name or added for the new one.
  for (const [kind, iso, member] of written) {
    expect(iso).toBe("de");
    expect(member).toContain(kind.endsWith("r") ? "versandkarton" : "faltkarton");
  }
  expect(one.records.get(SKU)).toEqual(recordOf(renamed));
});
