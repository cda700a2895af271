// INQUIRY data (SPC-4 6.6) and the vital product data pages (SPC-4 7.8, SBC-3 6.6). Identifiers are
// derived from the backend's permanent id, so they survive restarts and differ between a volume and
// each of its snapshots.
import { createHash } from "node:crypto";
import type { BlockBackend } from "./backend.js";
import { put16, put32, put64, putAscii } from "./cdb.js";
import type { ItNexus } from "./contract.js";

export const VENDOR_ID = "LIVESNAP";
/** IEEE company id in the NAA-6 designators (the IEEE-reserved zero id; livesnap has no OUI). */
const NAA_COMPANY_ID = 0x000000;

export interface InquiryIdentity {
  productId: string;
  revision: string;
}

/** Standard INQUIRY data, 96 bytes (version descriptors included). */
export function standardInquiry(backend: BlockBackend | undefined, id: InquiryIdentity): Uint8Array {
  const d = new Uint8Array(96);
  // No LUN here: peripheral qualifier 011b, device type 1Fh (SPC-4 6.6.2).
  d[0] = backend ? 0x00 : 0x7f;
  d[1] = 0x00;
  d[2] = 0x06; // SPC-4
  d[3] = 0x12; // HiSup, response data format 2
  d[4] = d.length - 5;
  d[5] = 0x08; // 3PC: EXTENDED COPY
  d[6] = 0x00;
  d[7] = 0x02; // CmdQue
  putAscii(d, 8, 8, VENDOR_ID);
  putAscii(d, 16, 16, id.productId);
  putAscii(d, 32, 4, id.revision);
  // Version descriptors: SAM-5, iSCSI (RFC 7143), SPC-4, SBC-3.
  const versions = [0x00a0, 0x0960, 0x0460, 0x04c0];
  versions.forEach((v, i) => {
    put16(d, 58 + i * 2, v);
  });
  return d;
}

export const SUPPORTED_VPD_PAGES: readonly number[] = [0x00, 0x80, 0x83, 0xb0, 0xb1, 0xb2];

function page(code: number, body: Uint8Array | number[]): Uint8Array {
  const b = body instanceof Uint8Array ? body : Uint8Array.from(body);
  const p = new Uint8Array(4 + b.length);
  p[0] = 0x00;
  p[1] = code;
  put16(p, 2, b.length);
  p.set(b, 4);
  return p;
}

/** Unit serial number: 32 hex digits derived from the permanent id. */
export function unitSerial(backend: BlockBackend): string {
  return createHash("sha256").update(`serial:${backend.identity.id}`).digest("hex").slice(0, 32);
}

/** NAA IEEE Registered Extended (6h) designator: 16 bytes, 124 bits derived from the id. */
export function naa6(backend: BlockBackend): Uint8Array {
  const h = createHash("sha256").update(`naa:${backend.identity.id}`).digest();
  const d = new Uint8Array(16);
  d[0] = 0x60 | ((NAA_COMPANY_ID >> 20) & 0x0f);
  d[1] = (NAA_COMPANY_ID >> 12) & 0xff;
  d[2] = (NAA_COMPANY_ID >> 4) & 0xff;
  d[3] = ((NAA_COMPANY_ID & 0x0f) << 4) | ((h[0] ?? 0) & 0x0f);
  d.set(h.subarray(1, 13), 4);
  return d;
}

function designator(codeSet: number, assocTypePiv: number, value: Uint8Array): number[] {
  return [codeSet, assocTypePiv, 0, value.length, ...value];
}

function scsiNameString(text: string): Uint8Array {
  // Null terminated, padded to a multiple of 4 bytes (SPC-4 7.8.6.11).
  const bytes = new TextEncoder().encode(text);
  const len = Math.ceil((bytes.length + 1) / 4) * 4;
  const v = new Uint8Array(len);
  v.set(bytes);
  return v;
}

export function vpdPage(code: number, backend: BlockBackend, nexus: ItNexus): Uint8Array | undefined {
  switch (code) {
    case 0x00:
      return page(0x00, [...SUPPORTED_VPD_PAGES]);
    case 0x80:
      return page(0x80, new TextEncoder().encode(unitSerial(backend)));
    case 0x83:
      return page(0x83, deviceIdentification(backend, nexus));
    case 0xb0:
      return page(0xb0, blockLimits(backend));
    case 0xb1: {
      const b = new Uint8Array(0x3c);
      put16(b, 0, 0x0001); // non-rotating medium
      return page(0xb1, b);
    }
    case 0xb2: {
      const b = new Uint8Array(4);
      if (backend.thin) {
        b[1] = 0xe4; // LBPU, LBPWS, LBPWS10, LBPRZ (unmapped blocks read as zeros)
        b[2] = 0x02; // provisioning type: thin
      }
      return page(0xb2, b);
    }
    default:
      return undefined;
  }
}

function deviceIdentification(backend: BlockBackend, nexus: ItNexus): Uint8Array {
  const out: number[] = [];
  // Logical unit: NAA-6 (binary), T10 vendor id (ASCII).
  out.push(...designator(0x01, 0x03, naa6(backend)));
  const t10 = new Uint8Array(8 + backend.identity.id.length);
  putAscii(t10, 0, 8, VENDOR_ID);
  putAscii(t10, 8, backend.identity.id.length, backend.identity.id);
  out.push(...designator(0x02, 0x01, t10));
  // Target port (association 01b, PIV=1, protocol iSCSI): relative target port and its SCSI name.
  const rtp = new Uint8Array(4);
  put16(rtp, 2, nexus.relativeTargetPortId);
  out.push(...designator(0x50 | 0x01, 0x80 | 0x10 | 0x04, rtp));
  const tpg = new Uint8Array(4);
  put16(tpg, 2, nexus.targetPortalGroupTag);
  out.push(...designator(0x50 | 0x01, 0x80 | 0x10 | 0x05, tpg));
  const portName = `${nexus.targetName},t,0x${nexus.targetPortalGroupTag.toString(16).padStart(4, "0")}`;
  out.push(...designator(0x50 | 0x03, 0x80 | 0x10 | 0x08, scsiNameString(portName)));
  // Target device (association 10b): the target's iSCSI name.
  out.push(...designator(0x50 | 0x03, 0x80 | 0x20 | 0x08, scsiNameString(nexus.targetName)));
  return Uint8Array.from(out);
}

/** Limits advertised in VPD B0 and enforced by the command handlers. */
export interface BlockLimits {
  maxTransferBlocks: number;
  maxCompareAndWriteBlocks: number;
  maxUnmapBlocks: number;
  maxUnmapDescriptors: number;
  maxWriteSameBlocks: number;
  /** WRITE ATOMIC(16) limits; all 0 when the backend has no atomic writes (the command is not offered). */
  maxAtomicTransferBlocks: number;
  atomicAlignmentBlocks: number;
  atomicGranularityBlocks: number;
}

/** Logical blocks per physical block: the unit below which a write is a read-modify-write. */
function blocksPerPhysical(backend: BlockBackend): number {
  return Math.max(1, Math.floor((backend.physicalBlockSize ?? backend.blockSize) / backend.blockSize));
}

export function blockLimitsOf(backend: BlockBackend): BlockLimits {
  const bs = backend.blockSize;
  const maxTransferBlocks = (32 * 1024 * 1024) / bs;
  // Atomic writes come in whole, aligned physical blocks (what a torn write would tear). The
  // maximum is rounded down to whole granules, so a write of exactly the maximum is accepted.
  const perPhysical = blocksPerPhysical(backend);
  const atomicBytes = backend.writeAtomic ? (backend.maxAtomicBytes ?? 0) : 0;
  const atomicBlocks = Math.min(Math.floor(Math.max(0, atomicBytes) / bs), maxTransferBlocks);
  const maxAtomicTransferBlocks = atomicBlocks - (atomicBlocks % perPhysical);
  const atomic = maxAtomicTransferBlocks > 0;
  return {
    maxTransferBlocks,
    maxCompareAndWriteBlocks: Math.min(255, (512 * 1024) / bs),
    maxUnmapBlocks: backend.thin ? 0xffffffff : 0,
    maxUnmapDescriptors: backend.thin ? 256 : 0,
    maxWriteSameBlocks: (64 * 1024 * 1024) / bs,
    maxAtomicTransferBlocks,
    atomicAlignmentBlocks: atomic ? perPhysical : 0,
    atomicGranularityBlocks: atomic ? perPhysical : 0,
  };
}

/** The LUN offers WRITE ATOMIC(16): the backend writes atomically, at least one granule. */
export function supportsAtomicWrite(backend: BlockBackend): boolean {
  return blockLimitsOf(backend).maxAtomicTransferBlocks > 0;
}

function blockLimits(backend: BlockBackend): Uint8Array {
  const l = blockLimitsOf(backend);
  const bs = backend.blockSize;
  const b = new Uint8Array(0x3c);
  b[1] = l.maxCompareAndWriteBlocks;
  const perPhysical = blocksPerPhysical(backend);
  put16(b, 2, perPhysical); // optimal transfer length granularity: one physical block
  put32(b, 4, l.maxTransferBlocks);
  put32(b, 8, l.maxTransferBlocks);
  put32(b, 12, 0); // maximum prefetch length
  put32(b, 16, l.maxUnmapBlocks);
  put32(b, 20, l.maxUnmapDescriptors);
  const perUnmap = Math.max(perPhysical, Math.floor((backend.unmapGranularity ?? 0) / bs));
  put32(b, 24, backend.thin ? perUnmap : 0); // optimal unmap granularity: what is deallocated whole
  put64(b, 32, l.maxWriteSameBlocks);
  // Page bytes 44-63 (the body starts at page byte 4). ATOMIC BOUNDARY stays 0: no boundaries.
  put32(b, 40, l.maxAtomicTransferBlocks);
  put32(b, 44, l.atomicAlignmentBlocks);
  put32(b, 48, l.atomicGranularityBlocks);
  put32(b, 52, 0); // maximum atomic transfer length with atomic boundary
  put32(b, 56, 0); // maximum atomic boundary size
  return b;
}
