// Deterministic sample catalog (SPEC §1): the six collections of categories, boxes and options.
// Every document is a pure function of (seed, kind, index), so origin ids and supplier links can be
// recomputed without storing anything, and a catalog of any size streams in constant memory.
import { type Db, type Document, ObjectId } from "mongodb";
import { ITEM_TYPES, type ItemType } from "../src/catalog/types.ts";

export { ITEM_TYPES, type ItemType };
export const SUPPLIER_COLLECTION: Record<ItemType, string> = {
  categories: "supplier_categories",
  boxes: "supplier_boxes",
  options: "supplier_options",
};

export interface CatalogOptions {
  seed?: number;
  originsPerType?: number;
  /** Average number of supplier documents per origin (may be fractional). */
  suppliersPerOrigin?: number;
  messy?: boolean;
  batchSize?: number;
}
type Resolved = Required<CatalogOptions>;

export function resolveOptions(opts: CatalogOptions = {}): Resolved {
  return {
    seed: opts.seed ?? 42,
    originsPerType: opts.originsPerType ?? 1000,
    suppliersPerOrigin: opts.suppliersPerOrigin ?? 2,
    messy: opts.messy ?? true,
    batchSize: opts.batchSize ?? 1000,
  };
}

export function supplierCount(opts: CatalogOptions = {}): number {
  const o = resolveOptions(opts);
  return Math.round(o.originsPerType * o.suppliersPerOrigin);
}

// ---------- ids and randomness ----------

const TYPE_CODE: Record<ItemType, number> = { categories: 1, boxes: 2, options: 3 };
const SUPPLIER_CODE = 0x10; // added to the type code for supplier documents
const DANGLING_BASE = 0xdead_0000_0000; // origin indexes never generated

function idHex(code: number, index: number): string {
  return `65f0${code.toString(16).padStart(2, "0")}${index.toString(16).padStart(18, "0")}`;
}

/** The `_id` of origin number `index` of a type (0-based), without generating the document. */
export function originId(type: ItemType, index: number): ObjectId {
  return new ObjectId(idHex(TYPE_CODE[type], index));
}

/** mulberry32: a small seeded generator of numbers in [0, 1), the same sequence for the same seed. */
export function mulberry32(a: number): () => number {
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function rngFor(seed: number, code: number, index: number): () => number {
  let h = Math.imul(seed ^ 0x9e3779b9, 0x85ebca6b) ^ code;
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35) ^ (index >>> 0);
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b) ^ Math.floor(index / 4294967296);
  h ^= h >>> 15;
  return mulberry32(h);
}

type Rng = () => number;
const int = (rng: Rng, n: number): number => Math.floor(rng() * n);
const pick = <T>(rng: Rng, xs: readonly T[]): T => xs[int(rng, xs.length)] as T;

// ---------- vocabulary ----------

const LANGS = ["en", "nl", "fr", "de", "pl", "ru", "ja"] as const;
type Lang = (typeof LANGS)[number];
/** One term in every language; modifiers are templates where "%" stands for the noun. */
type Term = Record<Lang, string>;

const t = (en: string, nl: string, fr: string, de: string, pl: string, ru: string, ja: string): Term => ({ en, nl, fr, de, pl, ru, ja });
const SAME: Term = t("%", "%", "%", "%", "%", "%", "%");

interface Vocabulary {
  nouns: Term[];
  mods: Term[];
  spec: (rng: Rng) => string;
}

const PAPER_FORMATS = ["A3", "A4", "A5", "A6", "DL", "85 × 55 mm", "210 × 210 mm", "148 × 148 mm", "100 × 210 mm", "50 × 50 mm"];
const PAPER_WEIGHTS = [80, 90, 120, 135, 170, 250, 300, 350, 400];

const VOCAB: Record<ItemType, Vocabulary> = {
  categories: {
    nouns: [
      t("Letterhead", "Briefpapier", "Papier à lettres", "Briefpapier", "Papier firmowy", "Фирменный бланк", "レターヘッド"),
      t("Business cards", "Visitekaartjes", "Cartes de visite", "Visitenkarten", "Wizytówki", "Визитки", "名刺"),
      t("Flyers", "Flyers", "Flyers", "Flyer", "Ulotki", "Листовки", "チラシ"),
      t("Folded leaflets", "Gevouwen folders", "Dépliants pliés", "Falzflyer", "Ulotki składane", "Буклеты", "折りパンフレット"),
      t("Posters", "Posters", "Affiches", "Plakate", "Plakaty", "Плакаты", "ポスター"),
      t("Brochures", "Brochures", "Brochures", "Broschüren", "Broszury", "Брошюры", "冊子"),
      t("Envelopes", "Enveloppen", "Enveloppes", "Briefumschläge", "Koperty", "Конверты", "封筒"),
      t("Stickers", "Stickers", "Autocollants", "Aufkleber", "Naklejki", "Наклейки", "ステッカー"),
      t("Postcards", "Ansichtkaarten", "Cartes postales", "Postkarten", "Pocztówki", "Открытки", "ポストカード"),
      t("Greeting cards", "Wenskaarten", "Cartes de vœux", "Grußkarten", "Kartki okolicznościowe", "Поздравительные открытки", "グリーティングカード"),
      t("Notepads", "Notitieblokken", "Blocs-notes", "Notizblöcke", "Notesy", "Блокноты", "メモ帳"),
      t("Calendars", "Kalenders", "Calendriers", "Kalender", "Kalendarze", "Календари", "カレンダー"),
      t("Banners", "Spandoeken", "Banderoles", "Banner", "Banery", "Баннеры", "横断幕"),
      t("Roll-up banners", "Roll-up banners", "Kakémonos", "Roll-up-Displays", "Rollupy", "Ролл-апы", "ロールアップバナー"),
      t("Labels", "Etiketten", "Étiquettes", "Etiketten", "Etykiety", "Этикетки", "ラベル"),
      t("Menus", "Menukaarten", "Menus", "Speisekarten", "Karty menu", "Меню", "メニュー表"),
      t("Presentation folders", "Presentatiemappen", "Chemises à rabats", "Präsentationsmappen", "Teczki ofertowe", "Папки", "プレゼンテーションフォルダー"),
      t("Invitations", "Uitnodigingen", "Faire-part", "Einladungskarten", "Zaproszenia", "Приглашения", "招待状"),
      t("Compliment slips", "Complimentkaarten", "Cartes de correspondance", "Kurzmitteilungen", "Karty korespondencyjne", "Бланки для заметок", "一筆箋"),
      t("Door hangers", "Deurhangers", "Accroche-portes", "Türanhänger", "Zawieszki na drzwi", "Дверные хенгеры", "ドアハンガー"),
    ],
    mods: [
      SAME,
      t("Premium %", "Premium %", "% premium", "Premium-%", "% premium", "% премиум", "プレミアム%"),
      t("Recycled %", "% van gerecycled papier", "% recyclés", "Recycling-%", "% z recyklingu", "% из вторсырья", "再生紙%"),
      t("Luxury %", "Luxe %", "% de luxe", "Luxus-%", "Luksusowe %", "% люкс", "高級%"),
      t("Double-sided %", "Dubbelzijdige %", "% recto verso", "% beidseitig", "% dwustronne", "Двусторонние %", "両面%"),
      t("Express %", "Express %", "% express", "Express-%", "% ekspresowe", "Срочные %", "特急%"),
      t("Custom %", "% op maat", "% personnalisés", "Individuelle %", "% na zamówienie", "% на заказ", "オーダーメイド%"),
      t("Glossy %", "Glanzende %", "% brillants", "Glänzende %", "Błyszczące %", "Глянцевые %", "光沢%"),
      t("Matte %", "Matte %", "% mats", "Matte %", "Matowe %", "Матовые %", "マット%"),
    ],
    spec: (rng) => {
      const r = rng();
      if (r < 0.3) return "";
      if (r < 0.6) return pick(rng, PAPER_FORMATS);
      if (r < 0.8) return `${pick(rng, PAPER_WEIGHTS)} g`;
      return `${pick(rng, PAPER_FORMATS)} ${pick(rng, PAPER_WEIGHTS)} g`;
    },
  },
  boxes: {
    nouns: [
      t("Shipping box", "Verzenddoos", "Boîte d'expédition", "Versandkarton", "Karton wysyłkowy", "Почтовая коробка", "配送用ボックス"),
      t("Mailer box", "Brievenbusdoos", "Boîte postale", "Versandschachtel", "Pudełko fasonowe", "Коробка-самосборка", "メーラーボックス"),
      t("Folding box", "Vouwdoos", "Boîte pliante", "Faltschachtel", "Pudełko składane", "Складная коробка", "折りたたみ箱"),
      t("Gift box", "Geschenkdoos", "Coffret cadeau", "Geschenkbox", "Pudełko prezentowe", "Подарочная коробка", "ギフトボックス"),
      t("Wine box", "Wijndoos", "Caisse à vin", "Weinkarton", "Pudełko na wino", "Коробка для вина", "ワイン箱"),
      t("Pizza box", "Pizzadoos", "Boîte à pizza", "Pizzakarton", "Pudełko na pizzę", "Коробка для пиццы", "ピザ箱"),
      t("Archive box", "Archiefdoos", "Boîte d'archives", "Archivbox", "Pudło archiwizacyjne", "Архивная коробка", "保存箱"),
      t("Moving box", "Verhuisdoos", "Carton de déménagement", "Umzugskarton", "Karton przeprowadzkowy", "Коробка для переезда", "引越し用段ボール"),
      t("Pallet box", "Palletdoos", "Caisse palette", "Palettenbox", "Kontener paletowy", "Паллетный короб", "パレットボックス"),
      t("Display box", "Displaydoos", "Présentoir de comptoir", "Thekendisplay", "Display kartonowy", "Дисплейная коробка", "ディスプレイボックス"),
      t("Bottle box", "Flessendoos", "Étui bouteille", "Flaschenkarton", "Pudełko na butelkę", "Коробка для бутылки", "ボトルボックス"),
      t("Cake box", "Taartdoos", "Boîte à gâteau", "Tortenkarton", "Pudełko na tort", "Коробка для торта", "ケーキ箱"),
    ],
    mods: [
      SAME,
      t("White %", "Witte %", "% blanche", "Weiße %", "% w kolorze białym", "Белая %", "白い%"),
      t("Kraft %", "Kraft %", "% kraft", "Kraft-%", "% kraft", "Крафтовая %", "クラフト%"),
      t("Double-wall %", "Dubbelgolf %", "% double cannelure", "% zweiwellig", "% z tektury pięciowarstwowej", "Усиленная %", "ダブル段%"),
      t("Printed %", "Bedrukte %", "% imprimée", "Bedruckte %", "% z nadrukiem", "% с печатью", "印刷入り%"),
      t("Eco %", "Eco %", "% écologique", "Öko-%", "% ekologiczne", "Эко-%", "エコ%"),
    ],
    spec: (rng) => {
      if (rng() < 0.2) return "";
      const l = pick(rng, [150, 200, 250, 300, 350, 400, 500, 600]);
      const w = pick(rng, [100, 150, 200, 250, 300]);
      const h = pick(rng, [50, 80, 100, 150, 200, 300]);
      return `${l} × ${w} × ${h} mm`;
    },
  },
  options: {
    nouns: [
      t("Matte laminate", "Matte laminaat", "Pelliculage mat", "Matte Cellophanierung", "Laminat matowy", "Матовая ламинация", "マットラミネート"),
      t(
        "Gloss laminate",
        "Glanzend laminaat",
        "Pelliculage brillant",
        "Glänzende Cellophanierung",
        "Laminat błyszczący",
        "Глянцевая ламинация",
        "グロスラミネート",
      ),
      t(
        "Soft-touch laminate",
        "Soft-touch laminaat",
        "Pelliculage soft touch",
        "Soft-Touch-Cellophanierung",
        "Laminat soft touch",
        "Софт-тач ламинация",
        "ソフトタッチラミネート",
      ),
      t("Spot UV varnish", "Spot-UV lak", "Vernis sélectif", "UV-Spotlack", "Lakier wybiórczy UV", "Выборочный УФ-лак", "スポットUV加工"),
      t("Hot foil stamping", "Goudfolie", "Dorure à chaud", "Heißfolienprägung", "Złocenie na gorąco", "Горячее тиснение фольгой", "箔押し"),
      t("Embossing", "Preeg", "Gaufrage", "Prägung", "Tłoczenie", "Конгревное тиснение", "エンボス加工"),
      t("Rounded corners", "Afgeronde hoeken", "Coins arrondis", "Abgerundete Ecken", "Zaokrąglone narożniki", "Скруглённые углы", "角丸加工"),
      t("Perforation", "Perforatie", "Perforation", "Perforation", "Perforacja", "Перфорация", "ミシン目加工"),
      t("Die cutting", "Stansen", "Découpe à la forme", "Stanzung", "Wykrojnik", "Вырубка", "型抜き"),
      t("Silk paper", "Silk papier", "Papier couché satiné", "Seidenmatt-Papier", "Papier satynowy", "Шёлковая бумага", "サテン紙"),
      t("Uncoated paper", "Ongestreken papier", "Papier non couché", "Naturpapier", "Papier niepowlekany", "Офсетная бумага", "上質紙"),
      t("Recycled paper", "Gerecycled papier", "Papier recyclé", "Recyclingpapier", "Papier z recyklingu", "Переработанная бумага", "再生紙"),
      t("Double-sided printing", "Dubbelzijdig drukken", "Impression recto verso", "Beidseitiger Druck", "Druk dwustronny", "Двусторонняя печать", "両面印刷"),
      t("Express production", "Spoedproductie", "Production express", "Expressproduktion", "Produkcja ekspresowa", "Срочное производство", "特急製作"),
      t("Printed proof", "Drukproef", "Épreuve papier", "Andruck", "Wydruk próbny", "Цветопроба", "色校正"),
      t("Drilling", "Boren", "Perçage", "Bohrung", "Wiercenie otworów", "Сверление", "穴あけ"),
      t("Wire-O binding", "Wire-O binding", "Reliure Wire-O", "Wire-O-Bindung", "Oprawa Wire-O", "Переплёт на пружину", "リング製本"),
      t("Saddle stitching", "Nieten", "Piqûre à cheval", "Rückendrahtheftung", "Zszywanie zeszytowe", "Скрепление скобой", "中綴じ"),
    ],
    mods: [
      SAME,
      t("% (one side)", "% (één zijde)", "% (recto)", "% (einseitig)", "% (jednostronnie)", "% (с одной стороны)", "%（片面）"),
      t("% (both sides)", "% (beide zijden)", "% (recto verso)", "% (beidseitig)", "% (dwustronnie)", "% (с двух сторон)", "%（両面）"),
    ],
    spec: (rng) => (rng() < 0.5 ? "" : `${pick(rng, PAPER_WEIGHTS)} g`),
  },
};

const SUPPLIERS: readonly { name: string; lang: Lang }[] = [
  { name: "Drukkerij Van den Berg B.V.", lang: "nl" },
  { name: "Kartonagefabriek Zeeland", lang: "nl" },
  { name: "Imprimerie Lefèvre & Fils", lang: "fr" },
  { name: "Cartonnages Gaëlle", lang: "fr" },
  { name: "Druckerei Müller GmbH", lang: "de" },
  { name: "Verpackungswerk Weiß KG", lang: "de" },
  { name: "Drukarnia Łódzka Sp. z o.o.", lang: "pl" },
  { name: "PakPol Śląsk", lang: "pl" },
  { name: "Типография «Север»", lang: "ru" },
  { name: "株式会社さくら印刷", lang: "ja" },
  { name: "Printwise Ltd", lang: "en" },
  { name: "Northern Box Co.", lang: "en" },
];

interface Parts {
  noun: number;
  mod: number;
  spec: string;
}

function drawParts(rng: Rng, v: Vocabulary): Parts {
  return { noun: int(rng, v.nouns.length), mod: rng() < 0.5 ? 0 : int(rng, v.mods.length), spec: v.spec(rng) };
}

function render(v: Vocabulary, p: Parts, lang: Lang): string {
  const noun = (v.nouns[p.noun] as Term)[lang];
  const text = (v.mods[p.mod] as Term)[lang].replace("%", noun);
  return p.spec ? `${text} ${p.spec}` : text;
}

function slugify(s: string): string {
  return s
    .toLowerCase()
    .normalize("NFKD")
    .replace(/[^a-z0-9]+/g, "-")
    .replace(/^-|-$/g, "");
}

// ---------- messy data (SPEC §1) ----------

const COMMON_CASES = [
  "display_name_missing",
  "display_name_string",
  "display_name_object",
  "element_string",
  "element_null",
  "element_number",
  "element_empty_name",
  "element_number_name",
  "element_null_name",
  "element_missing_name",
  "element_missing_iso",
  "element_duplicate",
] as const;
export const MESSY_CASES = {
  origin: [...COMMON_CASES, "name_missing", "slug_missing"],
  supplier: [...COMMON_CASES, "linked_missing", "linked_null", "linked_empty", "linked_invalid", "linked_dangling"],
} as const;
export type MessyCase = (typeof MESSY_CASES)["origin" | "supplier"][number];
const MESSY_REPEAT = 3;

/** Which document indexes (0..count-1) carry which messy case: each case MESSY_REPEAT times, spread evenly. */
export function messyPlan(kind: "origin" | "supplier", count: number): Map<number, MessyCase> {
  const cases: readonly MessyCase[] = MESSY_CASES[kind];
  const slots = cases.length * MESSY_REPEAT;
  const plan = new Map<number, MessyCase>();
  for (let s = 0; s < slots; s++) {
    const index = Math.floor(((s + 0.5) * count) / slots);
    if (index < count && !plan.has(index)) plan.set(index, cases[s % cases.length] as MessyCase);
  }
  return plan;
}

interface Element {
  iso?: string;
  display_name?: unknown;
}

function applyMessy(doc: Document, c: MessyCase, type: ItemType, index: number): void {
  const names = doc.display_name as Element[];
  const first = names[0] ?? { iso: "en", display_name: "Flyers" };
  switch (c) {
    case "display_name_missing":
      delete doc.display_name;
      break;
    case "display_name_string":
      doc.display_name = String(first.display_name);
      break;
    case "display_name_object":
      doc.display_name = first;
      break;
    case "element_string":
      names.push(String(first.display_name) as unknown as Element);
      break;
    case "element_null":
      names.push(null as unknown as Element);
      break;
    case "element_number":
      names.push(42 as unknown as Element);
      break;
    case "element_empty_name":
      names.push({ iso: "de", display_name: "" });
      break;
    case "element_number_name":
      names.push({ iso: "fr", display_name: 350 });
      break;
    case "element_null_name":
      names.push({ iso: "nl", display_name: null });
      break;
    case "element_missing_name":
      names.push({ iso: "pl" });
      break;
    case "element_missing_iso": {
      const en = names.find((e) => e.iso === "en");
      if (en) delete en.iso;
      else names.push({ display_name: first.display_name });
      break;
    }
    case "element_duplicate":
      names.push({ ...first });
      break;
    case "name_missing":
      delete doc.name;
      break;
    case "slug_missing":
      delete doc.slug;
      break;
    case "linked_missing":
      delete doc.linked;
      break;
    case "linked_null":
      doc.linked = null;
      break;
    case "linked_empty":
      doc.linked = "";
      break;
    case "linked_invalid":
      doc.linked = "xyz";
      break;
    case "linked_dangling":
      doc.linked = originId(type, DANGLING_BASE + index);
      break;
  }
}

// ---------- documents ----------

const EPOCH = Date.UTC(2019, 0, 1);
const DAY = 86_400_000;

interface OriginBase {
  parts: Parts;
  elements: { iso: Lang; display_name: string }[];
}

function originBase(type: ItemType, index: number, o: Resolved): OriginBase & { rng: Rng } {
  const rng = rngFor(o.seed, TYPE_CODE[type], index);
  const v = VOCAB[type];
  const parts = drawParts(rng, v);
  const langs: Lang[] = rng() < 0.8 ? ["en"] : [];
  const want = 2 + int(rng, 5);
  while (langs.length < want) {
    const l = pick(rng, LANGS);
    if (!langs.includes(l)) langs.push(l);
  }
  return { rng, parts, elements: langs.map((iso) => ({ iso, display_name: render(v, parts, iso) })) };
}

function originDoc(type: ItemType, index: number, o: Resolved, plan: Map<number, MessyCase>): Document {
  const { rng, parts, elements } = originBase(type, index, o);
  const name = render(VOCAB[type], parts, "en");
  const created = EPOCH + int(rng, 5 * 365) * DAY + int(rng, DAY);
  const doc: Document = {
    _id: originId(type, index),
    name,
    slug: `${slugify(name)}-${index}`,
    display_name: elements,
    created_at: new Date(created),
    updated_at: new Date(created + int(rng, 365) * DAY),
  };
  const c = o.messy ? plan.get(index) : undefined;
  if (c) applyMessy(doc, c, type, index);
  return doc;
}

function supplierDoc(type: ItemType, index: number, o: Resolved, plan: Map<number, MessyCase>): Document {
  const rng = rngFor(o.seed, SUPPLIER_CODE + TYPE_CODE[type], index);
  const v = VOCAB[type];
  const target = int(rng, o.originsPerType);
  const origin = originBase(type, target, o);
  const supplier = pick(rng, SUPPLIERS);
  const langs: Lang[] = [supplier.lang];
  const want = 1 + int(rng, 3);
  while (langs.length < want) {
    const l = pick(rng, LANGS);
    if (!langs.includes(l)) langs.push(l);
  }
  const elements = langs.map((iso) => {
    const same = origin.elements.find((e) => e.iso === iso);
    if (same && rng() < 0.4) return { ...same }; // identical to the origin's name: exercises de-duplication
    const parts = { ...origin.parts, ...(rng() < 0.5 ? { mod: int(rng, v.mods.length) } : { spec: v.spec(rng) }) };
    const text = render(v, parts, iso);
    return { iso, display_name: rng() < 0.05 ? text.toUpperCase() : text };
  });
  const id = originId(type, target);
  const doc: Document = {
    _id: new ObjectId(idHex(SUPPLIER_CODE + TYPE_CODE[type], index)),
    linked: rng() < 0.5 ? id : id.toHexString(),
    supplier: supplier.name,
    display_name: elements,
    updated_at: new Date(EPOCH + int(rng, 6 * 365) * DAY),
  };
  const c = o.messy ? plan.get(index) : undefined;
  if (c) applyMessy(doc, c, type, index);
  return doc;
}

export function* originDocs(type: ItemType, opts: CatalogOptions = {}): Generator<Document> {
  const o = resolveOptions(opts);
  const plan = messyPlan("origin", o.originsPerType);
  for (let i = 0; i < o.originsPerType; i++) yield originDoc(type, i, o, plan);
}

/** Supplier documents; with the same options their `linked` values point at originDocs' `_id`s. */
export function* supplierDocs(type: ItemType, opts: CatalogOptions = {}): Generator<Document> {
  const o = resolveOptions(opts);
  const n = supplierCount(o);
  const plan = messyPlan("supplier", n);
  for (let i = 0; i < n; i++) yield supplierDoc(type, i, o, plan);
}

// ---------- writing ----------

async function insertStream(db: Db, collection: string, docs: Iterable<Document>, batchSize: number): Promise<number> {
  const coll = db.collection(collection);
  let batch: Document[] = [];
  let inserted = 0;
  for (const doc of docs) {
    batch.push(doc);
    if (batch.length >= batchSize) {
      inserted += (await coll.insertMany(batch, { ordered: false })).insertedCount;
      batch = [];
    }
  }
  if (batch.length > 0) inserted += (await coll.insertMany(batch, { ordered: false })).insertedCount;
  return inserted;
}

/** Drops the six collections, then streams the catalog into them. Returns inserted counts per collection. */
export async function seedCatalog(db: Db, opts: CatalogOptions = {}): Promise<Record<string, number>> {
  const o = resolveOptions(opts);
  for (const type of ITEM_TYPES) {
    for (const name of [type, SUPPLIER_COLLECTION[type]]) {
      await db.dropCollection(name).catch((err: unknown) => {
        // NamespaceNotFound: code 26, or only its message (mongo-java-server)
        const { code, message } = err as { code?: number; message?: string };
        if (code !== 26 && message !== "ns not found") throw err;
      });
    }
  }
  const counts: Record<string, number> = {};
  for (const type of ITEM_TYPES) {
    counts[type] = await insertStream(db, type, originDocs(type, o), o.batchSize);
    counts[SUPPLIER_COLLECTION[type]] = await insertStream(db, SUPPLIER_COLLECTION[type], supplierDocs(type, o), o.batchSize);
  }
  return counts;
}
