// A tiny in-memory BlockBackend for the SCSI tests: a byte array, a mapped-block bitmap and the
// ticket bookkeeping the real engine enforces (every ticket ends exactly once).
import {
  type BackendLbaRange,
  type BackendTicket,
  type BlockBackend,
  type BlockSize,
  type CompareAndWriteResult,
  SenseError,
  SenseKey,
} from "../../src/index.js";

export class MemoryBackend implements BlockBackend {
  data: Uint8Array;
  mapped: boolean[];
  readonly open = new Set<BackendTicket>();
  flushes = 0;
  physicalBlockSize: number | undefined;
  unmapGranularity: number | undefined;
  fuaWrites = 0;
  /** WRITE ATOMIC limit; 0 leaves the command out (tests set it, as they set physicalBlockSize). */
  maxAtomicBytes = 0;
  /** Every writeAtomic call, in order. */
  readonly atomicWrites: { offset: number; length: number; fua: boolean }[] = [];
  readOnly: boolean;
  readonly thin = true;
  readonly identity: { id: string; name: string };

  constructor(
    readonly blockSize: BlockSize,
    blocks: number,
    opts: { readOnly?: boolean; id?: string } = {},
  ) {
    this.data = new Uint8Array(blocks * blockSize);
    this.mapped = new Array<boolean>(blocks).fill(false);
    this.readOnly = opts.readOnly ?? false;
    this.identity = { id: opts.id ?? "0b7d6a34-1111-4c3e-9a43-5d1f3e2b9c10", name: "vol0" };
  }

  get sizeBytes(): number {
    return this.data.length;
  }

  resize(blocks: number): void {
    const next = new Uint8Array(blocks * this.blockSize);
    next.set(this.data.subarray(0, Math.min(this.data.length, next.length)));
    this.data = next;
    this.mapped.length = blocks;
    this.mapped.fill(false, Math.min(this.mapped.length, blocks));
  }

  admit(offset: number, length: number): BackendTicket {
    if (offset + length > this.data.length) {
      throw new SenseError({ key: SenseKey.illegalRequest, asc: 0x2100 });
    }
    const t = { offset, length };
    this.open.add(t);
    return t;
  }

  #end(t: BackendTicket): void {
    if (!this.open.delete(t)) throw new Error("ticket ended twice or unknown");
  }

  cancel(t: BackendTicket): void {
    this.#end(t);
  }

  #mark(t: BackendTicket, mapped: boolean): void {
    for (let b = t.offset / this.blockSize; b < (t.offset + t.length) / this.blockSize; b++)
      this.mapped[b] = mapped;
  }

  async write(t: BackendTicket, data: Uint8Array, opts?: { fua?: boolean }): Promise<void> {
    this.#end(t);
    if (data.length !== t.length) throw new Error("write length differs from ticket");
    if (opts?.fua) this.fuaWrites++;
    this.data.set(data, t.offset);
    this.#mark(t, true);
  }

  async writeAtomic(t: BackendTicket, data: Uint8Array, opts?: { fua?: boolean }): Promise<void> {
    this.#end(t);
    if (data.length !== t.length) throw new Error("atomic write length differs from ticket");
    if (t.length > this.maxAtomicBytes) throw new Error("atomic write over the backend's maximum");
    this.atomicWrites.push({ offset: t.offset, length: t.length, fua: opts?.fua ?? false });
    this.data.set(data, t.offset);
    this.#mark(t, true);
  }

  async writeZeroes(t: BackendTicket, opts?: { unmap?: boolean }): Promise<void> {
    this.#end(t);
    this.data.fill(0, t.offset, t.offset + t.length);
    this.#mark(t, !opts?.unmap);
  }

  async unmap(t: BackendTicket): Promise<void> {
    this.#end(t);
    this.data.fill(0, t.offset, t.offset + t.length);
    this.#mark(t, false);
  }

  async compareAndWrite(
    t: BackendTicket,
    expected: Uint8Array,
    data: Uint8Array,
  ): Promise<CompareAndWriteResult> {
    this.#end(t);
    for (let i = 0; i < t.length; i++) {
      if (this.data[t.offset + i] !== expected[i]) return { ok: false, mismatchOffset: i };
    }
    this.data.set(data, t.offset);
    this.#mark(t, true);
    return { ok: true };
  }

  async read(offset: number, length: number, into?: Uint8Array): Promise<Uint8Array> {
    if (!into) return this.data.slice(offset, offset + length);
    if (into.length < length) throw new Error(`read buffer of ${into.length} bytes for ${length}`);
    into.set(this.data.subarray(offset, offset + length));
    return into.subarray(0, length);
  }

  async flush(): Promise<void> {
    this.flushes++;
  }

  lbaStatus(offset: number, length: number): BackendLbaRange[] {
    const out: BackendLbaRange[] = [];
    for (let b = offset / this.blockSize; b < (offset + length) / this.blockSize; b++) {
      const mapped = this.mapped[b] ?? false;
      const last = out[out.length - 1];
      if (last && last.mapped === mapped) last.length += this.blockSize;
      else out.push({ offset: b * this.blockSize, length: this.blockSize, mapped });
    }
    return out;
  }
}
