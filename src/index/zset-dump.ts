// A sorted set in the form Redis's DUMP gives it, for RESTORE: a run writes each piece of its
// phrase and word sets as one value Redis takes as it is, instead of a ZADD of every member that
// both the client (encoding two arguments per member) and Redis (parsing and inserting them) pay for.
// The form (Redis 7.0 and later): an RDB object of type "sorted set as listpack", the RDB version,
// and a CRC-64 of both. IndexStore checks once that the server takes it, and uses ZADD if not.

import { MEMBER_MAX } from "./members.ts";

const RDB_TYPE_ZSET_LISTPACK = 17;
/** Redis 7.0's RDB version: later versions take it too. */
const RDB_VERSION = 10;
/** Listpack entry encodings: a string of up to 63 bytes, of up to 4095 (here 64: MEMBER_MAX), and the end of the listpack. */
const LP_STRING_6 = 0x80;
const LP_STRING_12 = 0xe0;
const LP_END = 0xff;
/** Most members of one payload: the listpack's element count (2 per member) then still fits its 16 bits. */
const DUMP_MAX_MEMBERS = 32_000;

// CRC-64 with Jones's polynomial, reflected (Redis's crc64), as two 32-bit halves.
const CRC_HI = new Uint32Array(256);
const CRC_LO = new Uint32Array(256);
for (let n = 0; n < 256; n++) {
  let [hi, lo] = [0, n];
  for (let k = 0; k < 8; k++) {
    const bit = lo & 1;
    lo = ((lo >>> 1) | (hi << 31)) >>> 0;
    hi >>>= 1;
    if (bit) [hi, lo] = [(hi ^ 0x95ac9329) >>> 0, (lo ^ 0xac4bc9b5) >>> 0];
  }
  [CRC_HI[n], CRC_LO[n]] = [hi, lo];
}

function writeCrc64(bytes: Buffer, end: number): void {
  let [hi, lo] = [0, 0];
  for (let i = 0; i < end; i++) {
    const t = (lo ^ bytes[i]!) & 0xff;
    lo = ((lo >>> 8) | (hi << 24)) ^ CRC_LO[t]!;
    hi = (hi >>> 8) ^ CRC_HI[t]!;
  }
  bytes.writeUInt32LE(lo >>> 0, end);
  bytes.writeUInt32LE(hi >>> 0, end + 4);
}

/** Where payloads are put together, reused: buffers are outside the heap the collector watches. */
let scratch = Buffer.allocUnsafe(16 * 1024);
/** Bytes before the listpack: the type and its length (at most 5), moved up to it when shorter. */
const HEAD = 6;

/**
 * The DUMP payload of a sorted set of `members`, each scored 0, each once and in Redis's order (by
 * their UTF-8 bytes), each at most MEMBER_MAX bytes, as a piece's are. None may read as a number
 * to Redis (Redis would keep it as one): every index member holds a NUL. Redis does not check a
 * payload's entries unless told to (sanitize-dump-payload), and one written wrong can crash it:
 * test/index.dump.test.ts holds this to what DUMP gives.
 */
export function zsetDump(members: string[]): Buffer {
  if (members.length > DUMP_MAX_MEMBERS) throw new RangeError(`a payload holds at most ${DUMP_MAX_MEMBERS} members`);
  // Room for the longest UTF-8 (3 bytes per UTF-16 unit) and 7 more per member: headers, back-lengths, score.
  let room = HEAD + 6 + 1 + 2; // the type and length, the listpack's header and end, the RDB version
  for (const m of members) room += 3 * m.length + 7;
  if (scratch.length < room) scratch = Buffer.allocUnsafe(2 * room);
  const b = scratch;
  let at = HEAD + 6; // after the listpack's header: its size in bytes (4) and its element count (2)
  for (const m of members) {
    // Written after a 1-byte header, moved one byte on if it needs the 2-byte one.
    const bytes = b.write(m, at + 1, "utf8");
    if (bytes > MEMBER_MAX) throw new RangeError(`a member of a payload holds at most ${MEMBER_MAX} bytes`);
    let entry = bytes + 1;
    if (bytes < 64) b[at] = LP_STRING_6 | bytes;
    else {
      b.copyWithin(at + 2, at + 1, at + 1 + bytes);
      b[at] = LP_STRING_12 | (bytes >> 8);
      b[at + 1] = bytes & 0xff;
      entry++;
    }
    at += entry;
    // The entry's length again, for reading backwards: one byte below 128.
    b[at++] = entry;
    // The score 0, as Redis keeps a whole score: a 7-bit integer, then its length (1).
    b[at++] = 0;
    b[at++] = 1;
  }
  b[at++] = LP_END;
  const size = at - HEAD;
  b.writeUInt32LE(size, HEAD);
  b.writeUInt16LE(2 * members.length, HEAD + 4);
  // The RDB length of the listpack: 6 bits, 14 bits, or a byte 0x80 and 32 bits.
  let start: number;
  if (size < 1 << 6) {
    start = HEAD - 2;
    b[HEAD - 1] = size;
  } else if (size < 1 << 14) {
    start = HEAD - 3;
    b.writeUInt16BE(0x4000 | size, HEAD - 2);
  } else {
    start = HEAD - 6;
    b[HEAD - 5] = 0x80;
    b.writeUInt32BE(size, HEAD - 4);
  }
  b[start] = RDB_TYPE_ZSET_LISTPACK;
  b.writeUInt16LE(RDB_VERSION, at);
  at += 2;
  const payload = Buffer.allocUnsafe(at - start + 8);
  b.copy(payload, 0, start, at);
  writeCrc64(payload, at - start);
  return payload;
}
