// On-disk metadata records (format version 1). Every record, in the log and in checkpoints:
//   u32 bodyLength | u32 crc32c(body) | body
//   body = u8 type | u8 version | payload
// Hot records (COW entries, map/unmap, rollback progress) are binary; rare ones (volume and
// snapshot lifecycle) carry a UTF-8 JSON payload. A record whose length runs past the end of the
// file or whose CRC does not match ends the readable log: that is a torn tail.
import { crc32 } from "node:zlib";
import { crc32c } from "@livesnap/crc32c";

export const RECORD_VERSION = 1;
/**
 * cow records are written at version 2: their per-copy checksums are CRC-32 (IEEE, zlib's
 * vectorised crc32, about 5x faster than our CRC32C in JS: it was the largest CPU cost of a first
 * write). Version 1 cow records (CRC32C of the copy) are still read.
 */
export const COW_RECORD_VERSION = 2;

/** Checksum of a COW copy as version-2 cow records carry it. */
export function copyChecksum(copy: Uint8Array): number {
  return crc32(copy);
}
export const RECORD_HEADER = 8;
/** Refuse absurd lengths from garbage instead of allocating them. */
export const MAX_RECORD_BODY = 64 * 1024 * 1024;

export interface VolumeMeta {
  key: number;
  id: string;
  name: string;
  sizeBytes: number;
  blockSize: 512 | 4096;
  chunkSize: number;
  createdAt: string;
}

export interface SnapshotMeta {
  volKey: number;
  key: number;
  id: string;
  name: string;
  seq: number;
  sizeBytes: number;
  createdAt: string;
  group?: string;
}

export type MetaRecord =
  | { type: "volume-create"; volume: VolumeMeta }
  | { type: "volume-delete"; volKey: number }
  | { type: "volume-resize"; volKey: number; sizeBytes: number }
  /** Several snapshots in one record: a consistency group is created atomically. */
  | { type: "snapshot-create"; snapshots: SnapshotMeta[] }
  | { type: "snapshot-delete"; volKey: number; snapKey: number }
  | { type: "snapshot-invalidate"; volKey: number; snapKeys: number[]; reason: string }
  | { type: "rollback-start"; volKey: number; snapKey: number; seq: number }
  | { type: "rollback-end"; volKey: number }
  /** Admission counter high-water mark (checkpoints), so seqs stay monotonic across restarts. */
  | { type: "seq"; next: number }
  /**
   * chunk -> store slot in the snapshot's image; slot -1 = the chunk was all zeros. `crcs` holds
   * copyChecksum() of each copy (0 in checkpoints): recovery checks the last commit round's copies.
   * `crc32cCopies`: decoded from a version-1 record, whose checksums are CRC32C.
   */
  | {
      type: "cow";
      volKey: number;
      snapKey: number;
      chunks: number[];
      slots: number[];
      crcs: number[];
      crc32cCopies?: true;
    }
  /** First record of every commit round: only the last round can hold unsynced COW data. */
  | { type: "round" }
  /**
   * Write intent (md-bitmap style): regions (4096 chunks) that may receive origin data whose
   * "map" records are not yet durable. Committed before such data is written; cleared at flush.
   * Recovery scans intent regions of the origin to rebuild an exact mapped set.
   */
  | { type: "intent"; volKey: number; chunks: number[] }
  | { type: "intent-clear"; volKey: number; chunks: number[] }
  | { type: "map"; volKey: number; chunks: number[] }
  | { type: "unmap"; volKey: number; chunks: number[] }
  | { type: "rollback-done"; volKey: number; chunks: number[] }
  /**
   * WRITE ATOMIC's journal: the whole write, durable before its origin overwrite is issued, so
   * recovery can finish a write a crash tore. `seq` (its admission stamp) names it.
   */
  | { type: "atomic-write"; volKey: number; seq: number; offset: number; data: Buffer }
  /** Journalled writes whose origin data is durable: recovery no longer replays them. */
  | { type: "atomic-retire"; volKey: number; seqs: number[] }
  /** Last record of a checkpoint: its presence proves the checkpoint complete. */
  | { type: "end"; records: number };

const TYPE_CODES = {
  "volume-create": 1,
  "volume-delete": 2,
  "volume-resize": 3,
  "snapshot-create": 4,
  "snapshot-delete": 5,
  "snapshot-invalidate": 6,
  "rollback-start": 7,
  "rollback-end": 8,
  seq: 9,
  cow: 16,
  map: 17,
  unmap: 18,
  "rollback-done": 19,
  round: 20,
  intent: 21,
  "intent-clear": 22,
  "atomic-write": 23,
  "atomic-retire": 24,
  end: 31,
} as const satisfies Record<MetaRecord["type"], number>;

type BinaryType =
  | "cow"
  | "map"
  | "unmap"
  | "rollback-done"
  | "round"
  | "intent"
  | "intent-clear"
  | "atomic-write"
  | "atomic-retire";
const ATOMIC_HEADER = 20;
const COW_ENTRY = 20;
const CODE_TO_TYPE = new Map<number, MetaRecord["type"]>(
  Object.entries(TYPE_CODES).map(([k, v]) => [v, k as MetaRecord["type"]]),
);

/** u32 volKey | u32 n | n × f64: chunk lists, region lists, journal seqs. */
function encodeNumberList(volKey: number, list: readonly number[]): Buffer {
  const payload = Buffer.allocUnsafe(8 + list.length * 8);
  payload.writeUInt32LE(volKey, 0);
  payload.writeUInt32LE(list.length, 4);
  for (let i = 0; i < list.length; i++) payload.writeDoubleLE(list[i] as number, 8 + i * 8);
  return payload;
}

function decodeNumberList(p: Buffer, what: string): { volKey: number; list: number[] } {
  const n = p.readUInt32LE(4);
  if (p.length !== 8 + n * 8) throw new RecordFormatError(`${what} record length`);
  const list: number[] = new Array(n);
  for (let i = 0; i < n; i++) list[i] = p.readDoubleLE(8 + i * 8);
  return { volKey: p.readUInt32LE(0), list };
}

export function encodeRecord(rec: MetaRecord): Uint8Array {
  const code = TYPE_CODES[rec.type];
  let payload: Buffer;
  switch (rec.type) {
    case "cow": {
      // u32 volKey | u32 snapKey | u32 n | n × (f64 chunk, f64 slot, u32 copyChecksum of the copy)
      payload = Buffer.allocUnsafe(12 + rec.chunks.length * COW_ENTRY);
      payload.writeUInt32LE(rec.volKey, 0);
      payload.writeUInt32LE(rec.snapKey, 4);
      payload.writeUInt32LE(rec.chunks.length, 8);
      for (let i = 0; i < rec.chunks.length; i++) {
        payload.writeDoubleLE(rec.chunks[i] as number, 12 + i * COW_ENTRY);
        payload.writeDoubleLE(rec.slots[i] as number, 20 + i * COW_ENTRY);
        payload.writeUInt32LE(rec.crcs[i] ?? 0, 28 + i * COW_ENTRY);
      }
      break;
    }
    case "round": {
      payload = Buffer.alloc(0);
      break;
    }
    case "atomic-write": {
      // u32 volKey | f64 seq | f64 offset | data (the record's CRC32C covers it)
      payload = Buffer.allocUnsafe(ATOMIC_HEADER + rec.data.length);
      payload.writeUInt32LE(rec.volKey, 0);
      payload.writeDoubleLE(rec.seq, 4);
      payload.writeDoubleLE(rec.offset, 12);
      rec.data.copy(payload, ATOMIC_HEADER);
      break;
    }
    case "atomic-retire": {
      payload = encodeNumberList(rec.volKey, rec.seqs);
      break;
    }
    case "map":
    case "unmap":
    case "rollback-done":
    case "intent":
    case "intent-clear": {
      payload = encodeNumberList(rec.volKey, rec.chunks);
      break;
    }
    default: {
      const { type: _type, ...rest } = rec;
      payload = Buffer.from(JSON.stringify(rest), "utf8");
    }
  }
  const out = Buffer.allocUnsafe(RECORD_HEADER + 2 + payload.length);
  out.writeUInt32LE(2 + payload.length, 0);
  out[8] = code;
  out[9] = rec.type === "cow" ? COW_RECORD_VERSION : RECORD_VERSION;
  payload.copy(out, 10);
  out.writeUInt32LE(crc32c(out.subarray(8)), 4);
  return out;
}

export class RecordFormatError extends Error {}

function decodeBody(body: Buffer): MetaRecord {
  const type = CODE_TO_TYPE.get(body[0] as number);
  if (!type) throw new RecordFormatError(`unknown record type ${body[0]}`);
  const version = body[1];
  const known = type === "cow" ? version === 1 || version === COW_RECORD_VERSION : version === RECORD_VERSION;
  if (!known) throw new RecordFormatError(`unsupported ${type} record version ${version}`);
  const p = body.subarray(2);
  switch (type as BinaryType | MetaRecord["type"]) {
    case "cow": {
      const n = p.readUInt32LE(8);
      if (p.length !== 12 + n * COW_ENTRY) throw new RecordFormatError("cow record length");
      const chunks: number[] = new Array(n);
      const slots: number[] = new Array(n);
      const crcs: number[] = new Array(n);
      for (let i = 0; i < n; i++) {
        chunks[i] = p.readDoubleLE(12 + i * COW_ENTRY);
        slots[i] = p.readDoubleLE(20 + i * COW_ENTRY);
        crcs[i] = p.readUInt32LE(28 + i * COW_ENTRY);
      }
      const rec: MetaRecord = {
        type: "cow",
        volKey: p.readUInt32LE(0),
        snapKey: p.readUInt32LE(4),
        chunks,
        slots,
        crcs,
      };
      if (version === 1) rec.crc32cCopies = true;
      return rec;
    }
    case "round": {
      return { type: "round" };
    }
    case "atomic-write": {
      if (p.length < ATOMIC_HEADER) throw new RecordFormatError("atomic-write record length");
      return {
        type: "atomic-write",
        volKey: p.readUInt32LE(0),
        seq: p.readDoubleLE(4),
        offset: p.readDoubleLE(12),
        // A copy: the record outlives the log buffer it was read from.
        data: Buffer.from(p.subarray(ATOMIC_HEADER)),
      };
    }
    case "atomic-retire": {
      const { volKey, list } = decodeNumberList(p, "atomic-retire");
      return { type: "atomic-retire", volKey, seqs: list };
    }
    case "map":
    case "unmap":
    case "rollback-done":
    case "intent":
    case "intent-clear": {
      const { volKey, list } = decodeNumberList(p, "chunk list");
      return {
        type: type as "map" | "unmap" | "rollback-done" | "intent" | "intent-clear",
        volKey,
        chunks: list,
      };
    }
    default:
      return { type, ...JSON.parse(p.toString("utf8")) } as MetaRecord;
  }
}

/**
 * Decodes records from `buf` until the end or the first torn/corrupt record.
 * `validBytes` is where the intact prefix ends (a torn tail is truncated there on open).
 */
export function decodeRecords(buf: Buffer): { records: MetaRecord[]; offsets: number[]; validBytes: number } {
  const records: MetaRecord[] = [];
  const offsets: number[] = [];
  let pos = 0;
  while (pos + RECORD_HEADER <= buf.length) {
    const len = buf.readUInt32LE(pos);
    if (len < 2 || len > MAX_RECORD_BODY || pos + RECORD_HEADER + len > buf.length) break;
    const body = buf.subarray(pos + RECORD_HEADER, pos + RECORD_HEADER + len);
    if (crc32c(body) !== buf.readUInt32LE(pos + 4)) break;
    try {
      records.push(decodeBody(body));
      offsets.push(pos);
    } catch (err) {
      // A checksummed record we cannot parse is not a torn write: it is a newer or broken format.
      if (err instanceof RecordFormatError) throw err;
      throw new RecordFormatError(`undecodable record at ${pos}: ${String(err)}`);
    }
    pos += RECORD_HEADER + len;
  }
  return { records, offsets, validBytes: pos };
}

/** File header of logs and checkpoints: magic(8) | u16 format version | u16 reserved | u32 generation. */
export const FILE_HEADER = 16;
export const FORMAT_VERSION = 1;
const LOG_MAGIC = Buffer.from("LSNAPLOG", "ascii");
const CHECKPOINT_MAGIC = Buffer.from("LSNAPCKP", "ascii");

export function encodeFileHeader(kind: "log" | "checkpoint", generation: number): Uint8Array {
  const b = Buffer.alloc(FILE_HEADER);
  (kind === "log" ? LOG_MAGIC : CHECKPOINT_MAGIC).copy(b, 0);
  b.writeUInt16LE(FORMAT_VERSION, 8);
  b.writeUInt16LE(0, 10);
  b.writeUInt32LE(generation, 12);
  return b;
}

export function decodeFileHeader(b: Buffer): { kind: "log" | "checkpoint"; generation: number } | null {
  if (b.length < FILE_HEADER) return null;
  const magic = b.subarray(0, 8);
  const kind = magic.equals(LOG_MAGIC) ? "log" : magic.equals(CHECKPOINT_MAGIC) ? "checkpoint" : null;
  if (!kind) return null;
  if (b.readUInt16LE(8) !== FORMAT_VERSION) {
    throw new RecordFormatError(`unsupported metadata format version ${b.readUInt16LE(8)}`);
  }
  return { kind, generation: b.readUInt32LE(12) };
}
