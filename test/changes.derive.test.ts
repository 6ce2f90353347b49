// What a change means, from documents alone (src/changes/derive.ts), including the shapes of
// real MongoDB's events that the test server does not send (update descriptions).
import { describe, expect, test } from "bun:test";
import { ObjectId } from "mongodb";
import { itemUpdate, linkAtEvent, linkNow, originOf, supplierOf } from "../src/changes/derive.ts";
import type { ChangeEvent } from "../src/source/changes.ts";

const A = new ObjectId("65aaaaaaaaaaaaaaaaaaaaaa");
const B = new ObjectId("65bbbbbbbbbbbbbbbbbbbbbb");
const S = new ObjectId("65cccccccccccccccccccccc");
const event = (e: Record<string, unknown>) => ({ documentKey: { _id: S }, ...e }) as unknown as ChangeEvent;

describe("linkAtEvent: where a supplier links at the time of its event", () => {
  test("insert and replace: the document's linked, either form", () => {
    expect(linkAtEvent(event({ operationType: "insert", fullDocument: { _id: S, linked: A } }))).toBe(A.toHexString());
    expect(linkAtEvent(event({ operationType: "replace", fullDocument: { _id: S, linked: B.toHexString().toUpperCase() } }))).toBe(B.toHexString());
    expect(linkAtEvent(event({ operationType: "insert", fullDocument: { _id: S, linked: "nope" } }))).toBeNull();
  });

  test("update: from the update description, not the looked-up document (which may be later)", () => {
    const later = { _id: S, linked: B };
    expect(linkAtEvent(event({ operationType: "update", updateDescription: { updatedFields: { linked: A }, removedFields: [] }, fullDocument: later }))).toBe(
      A.toHexString(),
    );
    expect(
      linkAtEvent(event({ operationType: "update", updateDescription: { updatedFields: {}, removedFields: ["linked"] }, fullDocument: later })),
    ).toBeNull();
    // linked untouched: the event does not say where it links.
    expect(
      linkAtEvent(event({ operationType: "update", updateDescription: { updatedFields: { display_name: [] }, removedFields: [] }, fullDocument: later })),
    ).toBe(undefined);
    // No description (the test server): the looked-up document, if it has the field.
    expect(linkAtEvent(event({ operationType: "update", fullDocument: later }))).toBe(B.toHexString());
    expect(linkAtEvent(event({ operationType: "update", fullDocument: { display_name: [] } }))).toBe(undefined);
  });

  test("delete: nowhere; linkNow reads the looked-up document", () => {
    expect(linkAtEvent(event({ operationType: "delete" }))).toBeNull();
    expect(linkNow(event({ operationType: "delete" }))).toBeNull();
    expect(linkNow(event({ operationType: "update", fullDocument: { linked: A } }))).toBe(A.toHexString());
    expect(supplierOf(event({ operationType: "delete" }))).toBe(S.toHexString());
    expect(originOf(event({ operationType: "delete", documentKey: { _id: "not an id" } }))).toBeNull();
  });
});

describe("itemUpdate: one item as a full run builds it", () => {
  const origin = {
    _id: A,
    name: "Letterhead",
    slug: "letterhead",
    display_name: [
      { iso: "en", display_name: "Letterhead" },
      { iso: "nl", display_name: "Briefpapier" },
      { iso: "nl", display_name: "Postpapier" },
    ],
  };

  test("origin names, then suppliers' names not already there, with the origin's name per language", () => {
    const suppliers = [
      { _id: S, linked: A.toHexString(), display_name: [{ iso: "nl", display_name: "Briefpapier" }, { display_name: "Letter paper" }] },
      { _id: B, linked: B, display_name: [{ iso: "fr", display_name: "ignored: linked elsewhere" }] },
      { _id: new ObjectId(), linked: A, display_name: [{ iso: "fr", display_name: "Papier à lettres" }] },
    ];
    expect(itemUpdate(A.toHexString(), origin, suppliers)).toEqual({
      op: "replace",
      source: { linked: A.toHexString() },
      target: {
        linked: A.toHexString(),
        name: "Letterhead",
        slug: "letterhead",
        origin_names: { en: "Letterhead", nl: "Briefpapier" },
        display_names: [
          { iso: "en", display_name: "Letterhead" },
          { iso: "nl", display_name: "Briefpapier" },
          { iso: "nl", display_name: "Postpapier" },
          { iso: "en", display_name: "Letter paper" },
          { iso: "fr", display_name: "Papier à lettres" },
        ],
      },
    });
  });

  test("no origin: the item is removed", () => {
    expect(itemUpdate(A.toHexString(), null, [])).toEqual({ op: "remove", item: { linked: A.toHexString() } });
  });
});
