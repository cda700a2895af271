// Drives a ScsiTarget the way the transport does: admit, collect Data-Out, execute.
import {
  createScsiTargetPort,
  type DataInBuffers,
  type ItNexus,
  type ScsiResponse,
  type ScsiTarget,
} from "../../src/index.js";
import { MemoryBackend } from "./memory-backend.js";

export function nexus(n = 1, initiator = "iqn.2026-01.test:init"): ItNexus {
  const isid = `40000000000${n}`;
  return {
    id: `${initiator},i,0x${isid},iqn.2026-01.test:target,t,1`,
    initiatorName: initiator,
    isid,
    targetName: "iqn.2026-01.test:target",
    targetPortalGroupTag: 1,
    relativeTargetPortId: 1,
  };
}

export interface Result extends ScsiResponse {
  /** Data-Out length the SCSI side asked for. */
  dataOutLength: number;
}

/**
 * Data-In buffers as the transport's pool hands them out: larger than asked (a size class) and
 * full of an earlier command's bytes, so a command that exposes a byte it did not write shows.
 */
export class StaleDataInBuffers implements DataInBuffers {
  readonly handedOut: Uint8Array[] = [];
  dataInBuffer(length: number): Uint8Array {
    const buf = new Uint8Array(length + 4096).fill(0xee);
    this.handedOut.push(buf);
    return buf;
  }
}

export class Harness {
  readonly target: ScsiTarget;
  readonly backend: MemoryBackend;
  /** Every command runs with these, like the transport's recycled Data-In buffers. */
  readonly dataIn = new StaleDataInBuffers();

  constructor(
    opts: {
      blockSize?: 512 | 4096;
      blocks?: number;
      readOnly?: boolean;
      loggedIn?: boolean;
      target?: ScsiTarget;
    } = {},
  ) {
    this.target = opts.target ?? createScsiTargetPort();
    this.backend = new MemoryBackend(opts.blockSize ?? 512, opts.blocks ?? 1024, {
      readOnly: opts.readOnly ?? false,
    });
    this.target.addLun(0, this.backend);
    if (opts.loggedIn !== false) this.target.nexusLoggedIn(nexus(1));
  }

  /** Runs one command; clears the power-on unit attention first unless `keepUa`. */
  async run(
    cdb: number[] | Uint8Array,
    opts: { dataOut?: Uint8Array; edtl?: number; lun?: number; nexus?: ItNexus } = {},
  ): Promise<Result> {
    const c = Uint8Array.from(cdb);
    const dataOut = opts.dataOut;
    const edtl = opts.edtl ?? dataOut?.length ?? 65536;
    const adm = this.target.admit({
      lun: opts.lun ?? 0,
      cdb: c,
      nexus: opts.nexus ?? nexus(1),
      expectedDataTransferLength: edtl,
      readBit: dataOut === undefined,
      writeBit: dataOut !== undefined,
      taskTag: 1,
      attribute: "simple",
    });
    if (adm.kind === "immediate") return { ...adm.response, dataOutLength: 0 };
    const out = dataOut?.subarray(0, adm.dataOutLength);
    const r = await this.target.execute(adm, out, this.dataIn);
    return { ...r, dataOutLength: adm.cdbDataOutLength ?? adm.dataOutLength };
  }

  async clearUa(n = nexus(1)): Promise<void> {
    for (let i = 0; i < 10; i++) {
      const r = await this.run([0, 0, 0, 0, 0, 0], { nexus: n });
      if (r.status === 0) return;
    }
    throw new Error("unit attention does not clear");
  }
}

/** Sense key / ASC+ASCQ of fixed or descriptor sense. */
export function senseOf(r: ScsiResponse): { key: number; asc: number; info?: number; sks?: number[] } {
  const s = r.sense;
  if (!s) throw new Error(`no sense (status ${r.status})`);
  if ((s[0]! & 0x7f) === 0x72) {
    return { key: s[1]! & 0x0f, asc: (s[2]! << 8) | s[3]! };
  }
  const out: { key: number; asc: number; info?: number; sks?: number[] } = {
    key: s[2]! & 0x0f,
    asc: (s[12]! << 8) | s[13]!,
  };
  if (s[0]! & 0x80) out.info = new DataView(s.buffer, s.byteOffset).getUint32(3);
  if (s[15]! & 0x80) out.sks = [s[15]!, s[16]!, s[17]!];
  return out;
}

export function be(n: number | bigint, bytes: number): number[] {
  const out: number[] = [];
  for (let i = bytes - 1; i >= 0; i--) out.push(Number((BigInt(n) >> BigInt(i * 8)) & 0xffn));
  return out;
}

export const cdb10 = (op: number, lba: number, blocks: number, flags = 0) => [
  op,
  flags,
  ...be(lba, 4),
  0,
  ...be(blocks, 2),
  0,
];
export const cdb16 = (op: number, lba: number, blocks: number, flags = 0) => [
  op,
  flags,
  ...be(lba, 8),
  ...be(blocks, 4),
  0,
  0,
];
