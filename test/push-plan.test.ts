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

test("a replace keeps the position of every entry it keeps, so only what it drops or adds is written", () => {
  const current = new Map([[SKU, recordOf(names)]]);
  const withoutFirst = planPush({ op: "replace", source: { linked: SKU }, target: item(names.slice(1)) }, current);
  // Only the English entry's members go; the others keep their ids and members (and need no vocabulary add).
  expect(withoutFirst.changes.length).toBeGreaterThan(0);
  for (const [kind, iso] of withoutFirst.changes) expect([kind.endsWith("r"), iso]).toEqual([true, "en"]);
  const record = withoutFirst.records.get(SKU)!;
  expect(record.e).toEqual([null, ["de", "Versandkarton", "Versandkarton"], ["nl", "Verzenddoos", "Verzenddoos"]]);
  expect([withoutFirst.removed, withoutFirst.added, withoutFirst.entriesDelta]).toEqual([3, 2, -1]);

  // A new name takes the empty position; the kept ones stay where they are.
  const next = new Map([[SKU, record]]);
  const added = [{ iso: "fr", display_name: "Boîte postale" }, names[2]!, names[1]!];
  const refilled = planPush({ op: "replace", source: { linked: SKU }, target: item(added) }, next);
  expect(refilled.records.get(SKU)!.e.map((e) => e?.[1])).toEqual(["Boîte postale", "Versandkarton", "Verzenddoos"]);
  for (const [kind, iso] of refilled.changes) {
    expect(["pa", "wa", "v"]).toContain(kind);
    expect(iso).toBe("fr");
  }
});
