// The data path of one volume: admission, the write path (rollback restore -> COW -> origin
// write), reads of the live volume and of snapshots, unmap, flush, rollback.
// Crash ordering (dm-snap-persistent style): a COW copy is written to the COW store, its lookup
// entry (with the copy's CRC32C) appended to the metadata log, and both made durable by
// log.commit() BEFORE the origin overwrite is issued. See storeCopies() then execute() and startTail().
// Write-back (the LUN advertises WCE=1): a write without FUA that needs a COW copy is
// acknowledged once the old chunk has been read into memory; the copy write, its record, the
// commit wait, the origin overwrite and the unlock run as a background tail that keeps the chunk
// locks, so the ordering above is unchanged. flush() waits for the tails and reports their
// errors (errseq style).
import type { EventEmitter } from "node:events";
import type {
  BlockMap,
  BlockMapQuery,
  ChangedChunks,
  EngineLogger,
  LbaStatusRange,
  LogicalBlockSize,
  PoolEvents,
  RollbackProgress,
  SnapshotInfo,
  SnapshotReader,
  VolumeHandle,
  VolumeInfo,
  VolumeStats,
  WriteTicket,
} from "./api.js";
import type { BlockFile } from "./block-file.js";
import { buildBlockMap } from "./block-map.js";
import { ChunkBuffers } from "./chunk-buffers.js";
import { adjacentRuns, ChunkSet, REGION_CHUNKS } from "./chunk-set.js";
import type { CowStore } from "./cow-store.js";
import { EngineError, errnoCode, toEngineError, tooLargeOr } from "./errors.js";
import { GroupSync } from "./group-sync.js";
import { type LockEntry, LockManager } from "./lock-manager.js";
import type { MetaLog } from "./meta-log.js";
import { type SnapshotState, type VolumeState, ZERO_SLOT } from "./pool-state.js";
import { copyChecksum, type MetaRecord } from "./records.js";

/** What a volume needs from its pool. */
export interface VolumeHost {
  readonly log: MetaLog;
  readonly events: EventEmitter<PoolEvents>;
  readonly logger: EngineLogger;
  /** Applies a record to memory and queues it for the log, in one synchronous step. */
  record(rec: MetaRecord): number[];
  /** Takes the next admission stamp (pool-wide counter, synchronous). */
  stamp(): number;
  createSnapshots(entries: { volume: string; snapshot: string }[], group: boolean): Promise<SnapshotInfo[]>;
  checkOpen(): void;
}

const MAX_IO_BYTES = 1 << 20;
/** Largest WRITE ATOMIC: the write is journalled whole in one log record. */
export const MAX_ATOMIC_WRITE_BYTES = 1 << 20;
/** Cap on descriptors returned by one lbaStatus call. */
const MAX_LBA_RANGES = 65536;
const ZEROES = Buffer.alloc(MAX_IO_BYTES);
/**
 * Cap on write-back tails per volume (a write cache's dirty limit): beyond it a write waits for
 * its own commit before it is acknowledged. Bounds memory (each tail holds a copy of its data)
 * and the lock manager's queue.
 */
const MAX_WRITE_BACK_TAILS = 256;
/**
 * The same limit in bytes held by tails: each holds its data and the old chunks it has still to
 * write into the COW store (writes and chunks may be up to 1 MiB each).
 */
const MAX_WRITE_BACK_BYTES = 32 << 20;

class AdmittedWrite implements WriteTicket {
  state: "admitted" | "executing" | "done" = "admitted";
  constructor(
    readonly seq: number,
    readonly offset: number,
    readonly length: number,
    readonly owner: Volume,
    readonly entry: LockEntry,
  ) {}
}

/**
 * A commit round COW copies wait on, wrapped: an async function returning a bare promise would
 * await it, and write-back must return before it settles.
 */
interface PendingCommit {
  readonly durable: Promise<void>;
}

/** Old chunk contents the write at `seq` must preserve, read into memory, not yet in the store. */
interface CowPlan {
  readonly seq: number;
  readonly chunks: readonly number[];
  readonly copies: readonly Buffer[];
  /** Per copy: all zeros (preserved as ZERO_SLOT, no store write). */
  readonly zero: readonly boolean[];
  /** Bytes of memory the copies hold. */
  readonly bytes: number;
}

/** The first `length` bytes of a caller's buffer, as a Buffer view (no copy). */
function intoView(into: Uint8Array, length: number): Buffer {
  if (into.length < length) {
    throw new EngineError("invalid-argument", `read buffer is ${into.length} bytes, ${length} needed`);
  }
  return Buffer.from(into.buffer, into.byteOffset, length);
}

function* range(lo: number, hi: number): IterableIterator<number> {
  for (let c = lo; c < hi; c++) yield c;
}

function isZero(buf: Uint8Array): boolean {
  const words = new BigUint64Array(buf.buffer, buf.byteOffset, buf.byteLength >>> 3);
  for (let i = 0; i < words.length; i++) if (words[i] !== 0n) return false;
  for (let i = words.length * 8; i < buf.length; i++) if (buf[i] !== 0) return false;
  return true;
}

export class Volume implements VolumeHandle {
  readonly locks = new LockManager();
  private readonly originSync: GroupSync;
  private readonly counters: VolumeStats = {
    reads: 0,
    writes: 0,
    bytesRead: 0,
    bytesWritten: 0,
    cowCopies: 0,
    cowBytes: 0,
    unmaps: 0,
    flushes: 0,
    writeBackErrors: 0,
  };
  /** Background tails of acknowledged write-back writes, by ticket: commit -> origin overwrite -> unlock. */
  private readonly tails = new Map<AdmittedWrite, Promise<void>>();
  /** Tails of atomic writes whose journal entry is durable: a later FUA write need not wait for them. */
  private readonly journalledTails = new Set<AdmittedWrite>();
  /** Times a read or write had to wait for chunks (a riding retire then commits at once). */
  private lockWaits = 0;
  /** Chunk-sized buffers the write-back tails recycle (old chunks, copies of written data). */
  private readonly buffers: ChunkBuffers;
  private tailBytes = 0;
  /**
   * COW copies of acknowledged writes not yet in the store nor in a table (their tails hold the
   * chunks): block maps, changed-chunk lists and rollback must count them as preserved already.
   */
  private readonly unstored = new Set<CowPlan>();
  /** First error of a background tail not yet reported by flush() (Linux errseq: reported once). */
  private writeBackError: EngineError | null = null;
  private writtenChunks: number[] = [];
  private eventScheduled = false;
  /**
   * Set when origin writes are vouched for by records queued after them (rollback "done",
   * "unmap": the chunk reads as zeros): the next commit round syncs the origin before writing.
   */
  private vouchedUnsynced = false;
  private closed = false;
  private inflight = 0;
  private rollbackRun: Promise<void> | null = null;
  /** Reads in progress per snapshot (delete waits for them, new ones are refused). */
  private readonly snapshotReaders = new Map<SnapshotState, number>();
  private readonly deleting = new Set<SnapshotState>();
  private idleWaiters: (() => void)[] = [];
  /**
   * Commit of a metadata change that lifts COW obligations (a snapshot delete). Until it is
   * durable no origin overwrite may be issued: after a crash the snapshot would come back
   * without the copies the overwrite skipped.
   */
  private relaxation: Promise<void> | null = null;
  /** Write-intent commits still in flight, per region. */
  private readonly intentCommits = new Map<number, Promise<void>>();
  /**
   * After a rollback to S that ran start to end in this process: the chunks it restored that no
   * write has touched since. They hold exactly S's content, so "written since S" (live block map,
   * changed chunks up to the live volume) leaves them out. Memory only: after a restart they count
   * as written again (over-reporting, never under-reporting).
   */
  private restoredClean: { snap: SnapshotState; chunks: ChunkSet } | null = null;
  /** Chunks that writes other than the restores touched while a rollback ran. */
  private rollbackDirty: ChunkSet | null = null;

  constructor(
    readonly vs: VolumeState,
    readonly origin: BlockFile,
    readonly store: CowStore,
    private readonly host: VolumeHost,
  ) {
    this.originSync = new GroupSync(() => this.origin.sync());
    this.buffers = new ChunkBuffers(vs.meta.chunkSize);
    // A write-back tail's commit round may be gathering records (GroupSync's lazy delay) while
    // the tail holds its chunks: a read or write that waits for chunks starts the round now.
    this.locks.onWait = () => {
      this.lockWaits++;
      if (this.tails.size > 0) this.host.log.commit().catch(() => undefined);
    };
  }

  get chunkSize(): number {
    return this.vs.meta.chunkSize;
  }

  get info(): VolumeInfo {
    const m = this.vs.meta;
    return {
      name: m.name,
      id: m.id,
      sizeBytes: m.sizeBytes,
      blockSize: m.blockSize,
      chunkSize: m.chunkSize,
      createdAt: m.createdAt,
      snapshotCount: this.vs.snapshots.length,
      allocatedBytes: Math.min(this.vs.mapped.size * m.chunkSize, m.sizeBytes),
    };
  }

  /** Hook for the log's commit round: restored origin data is durable before its "done" records. */
  async syncRestores(): Promise<void> {
    if (!this.vouchedUnsynced) return;
    this.vouchedUnsynced = false;
    await this.originSync.sync();
  }

  // ---- admission ---------------------------------------------------------------------------

  admit(offset: number, length: number): WriteTicket {
    this.checkUsable();
    this.checkRange(offset, length, this.vs.meta.sizeBytes);
    const cs = this.chunkSize;
    const seq = this.host.stamp();
    const entry = this.locks.admit(seq, Math.floor(offset / cs), Math.ceil((offset + length) / cs));
    return new AdmittedWrite(seq, offset, length, this, entry);
  }

  cancel(ticket: WriteTicket): void {
    if (!(ticket instanceof AdmittedWrite) || ticket.owner !== this) {
      throw new EngineError("invalid-argument", "ticket was not admitted by this volume");
    }
    if (ticket.state !== "admitted") return;
    ticket.state = "done";
    this.locks.cancel(ticket.entry);
  }

  // ---- writes ------------------------------------------------------------------------------

  write(ticket: WriteTicket, data: Uint8Array, opts?: { fua?: boolean }): Promise<void> {
    if (data.length !== ticket.length) {
      return this.rejectTicket(ticket, `data is ${data.length} bytes, ticket is ${ticket.length}`);
    }
    if (!opts?.fua) return this.executeWriteBack(ticket, data);
    return this.execute(ticket, false, async (t) => {
      await this.writeData(t, data);
      this.countWrite(t);
      // FUA: every write acknowledged before this one reaches the origin first, then one sync
      // makes all of them durable (as SYNCHRONIZE CACHE would).
      await this.waitForTails(this.notDurableBefore(t));
      await this.syncOrigin();
    });
  }

  /**
   * All of `data` or none of it, for readers (the chunks are held throughout) and across a crash.
   * The COW rule runs first, as for any write. Then, in code order: the whole write is journalled
   * in the log and committed (commitJournal); the origin is written and synced, and the retire
   * record is committed (applyJournalled); only then are the chunks released. A crash before the
   * retire leaves the journal entry pending and recovery writes it again, completing a torn
   * overwrite. Holding the chunks until the retire is durable means no later write of these bytes
   * can become durable while recovery might still replay this one over it.
   * With `fua` it resolves once the journal entry is durable (the write is then durable: recovery
   * completes it); without, as soon as its turn has come and its data is copied (write-back,
   * WCE=1): a crash may lose it whole, never tear it, and flush() waits for it. Either way the
   * rest runs as a tail holding the chunks, and its retire rides with the next commit round.
   */
  writeAtomic(ticket: WriteTicket, data: Uint8Array, opts?: { fua?: boolean }): Promise<void> {
    if (data.length !== ticket.length) {
      return this.rejectTicket(ticket, `data is ${data.length} bytes, ticket is ${ticket.length}`);
    }
    if (ticket.length > MAX_ATOMIC_WRITE_BYTES) {
      return this.rejectTicket(ticket, `an atomic write is at most ${MAX_ATOMIC_WRITE_BYTES} bytes`);
    }
    return this.executeAtomic(ticket, data, opts?.fua === true);
  }

  private async executeAtomic(ticket: WriteTicket, data: Uint8Array, fua: boolean): Promise<void> {
    const t = this.claim(ticket);
    let handedOff = false;
    try {
      await this.locks.acquireWrite(t.entry);
      try {
        // The journal entry may outlive this call (a failed origin write leaves it for recovery),
        // and the caller may reuse its buffer once acknowledged: the engine keeps its own copy.
        const own = Buffer.from(data);
        const tailFits =
          this.tails.size < MAX_WRITE_BACK_TAILS && this.tailBytes + own.length <= MAX_WRITE_BACK_BYTES;
        if (fua) {
          await this.beforeOverwrite(await this.prepareWrite(t, false));
          // FUA also covers every write acknowledged before this one, as for a plain FUA write.
          if (await this.waitForTails(this.notDurableBefore(t))) await this.syncOrigin();
          await this.commitJournal(t, own);
          this.countWrite(t);
          if (!tailFits) {
            await this.applyJournalled(t, own, false);
            return;
          }
          this.journalledTails.add(t);
          this.startAtomicTail(t, own, async () => {
            await this.applyJournalled(t, own, true);
          });
        } else {
          if (!tailFits) {
            // Beyond the tail caps: the whole write before the acknowledgement.
            await this.beforeOverwrite(await this.prepareWrite(t, false));
            await this.commitJournal(t, own);
            await this.applyJournalled(t, own, false);
            this.countWrite(t);
            return;
          }
          this.countWrite(t);
          this.startAtomicTail(t, own, async () => {
            await this.beforeOverwrite(await this.prepareWrite(t, false));
            await this.commitJournal(t, own);
            this.journalledTails.add(t);
            await this.applyJournalled(t, own, true);
          });
        }
        handedOff = true;
      } finally {
        if (!handedOff) this.locks.releaseWrite(t.entry);
      }
    } finally {
      if (!handedOff) this.settle(t);
    }
  }

  /** The rest of an acknowledged atomic write. Owns t's chunk locks, its inflight count and data. */
  private startAtomicTail(t: AdmittedWrite, data: Buffer, rest: () => Promise<void>): void {
    this.tailBytes += data.length;
    const tail = (async (): Promise<void> => {
      try {
        await rest();
      } catch (err) {
        this.noteWriteBackError(t, toEngineError(err, "atomic write tail"));
      } finally {
        this.locks.releaseWrite(t.entry);
        this.tails.delete(t);
        this.journalledTails.delete(t);
        this.tailBytes -= data.length;
        this.settle(t);
      }
    })();
    this.tails.set(t, tail);
  }

  /**
   * The journal entry of an atomic write, committed. Caller holds t's chunks; its COW copies are
   * durable. From its return the write is durable: recovery completes it.
   */
  private async commitJournal(t: AdmittedWrite, data: Buffer): Promise<void> {
    const volKey = this.vs.meta.key;
    this.host.record({ type: "atomic-write", volKey, seq: t.seq, offset: t.offset, data });
    try {
      await this.host.log.commit();
    } catch (err) {
      // Nothing reached the origin: a retire queued behind the entry keeps recovery from
      // applying a write that was reported failed.
      this.host.record({ type: "atomic-retire", volKey, seqs: [t.seq] });
      throw toEngineError(err, "atomic write journal commit");
    }
  }

  /**
   * A committed journal entry applied: origin written and synced, then the retire committed.
   * A failure leaves the entry pending: recovery completes the write. `riding`: the caller has
   * been answered, so the retire waits for the next commit round anybody starts (the next
   * writer's journal round) instead of one of its own, unless a read or write waits for chunks.
   */
  private async applyJournalled(t: AdmittedWrite, data: Buffer, riding: boolean): Promise<void> {
    const waitsBefore = this.lockWaits;
    await this.writeData(t, data);
    await this.syncOrigin();
    this.host.record({ type: "atomic-retire", volKey: this.vs.meta.key, seqs: [t.seq] });
    try {
      if (riding && this.lockWaits === waitsBefore) await this.host.log.commitRiding();
      else await this.host.log.commit();
    } catch (err) {
      throw toEngineError(err, "atomic write retire commit");
    }
  }

  /**
   * Recovery, before any I/O: journalled atomic writes whose retire was not durable are written
   * again (a torn overwrite is completed), synced, then retired. Their COW copies were durable
   * before their journal entry, so no copy is needed now.
   */
  async completeAtomicWrites(): Promise<number> {
    const pending = [...this.vs.atomicPending];
    if (pending.length === 0) return 0;
    const cs = this.chunkSize;
    const size = this.vs.meta.sizeBytes;
    for (const [, w] of pending) {
      const end = Math.min(w.offset + w.data.length, size);
      if (end <= w.offset) continue;
      await this.markMapped(Math.floor(w.offset / cs), Math.ceil(end / cs));
      await this.originWrite(w.data.subarray(0, end - w.offset), w.offset);
    }
    await this.syncOrigin();
    this.host.record({ type: "atomic-retire", volKey: this.vs.meta.key, seqs: pending.map(([seq]) => seq) });
    await this.host.log.commit();
    return pending.length;
  }

  /** The origin part of a write: map records, then the data. Caller holds the chunks, COW done. */
  private async writeData(t: AdmittedWrite, data: Uint8Array): Promise<void> {
    // Overwrites of mapped chunks (the common case) skip markMapped's async call and arrays.
    if (!this.allMapped(t.entry.lo, t.entry.hi)) await this.markMapped(t.entry.lo, t.entry.hi);
    await this.originWrite(data, t.offset);
    this.noteWritten(t.entry.lo, t.entry.hi, t.seq);
  }

  /** Stats count a write when it is acknowledged (a write-back one before its tail ends). */
  private countWrite(t: AdmittedWrite): void {
    this.counters.writes++;
    this.counters.bytesWritten += t.length;
  }

  writeZeroes(ticket: WriteTicket, opts?: { unmap?: boolean }): Promise<void> {
    if (opts?.unmap) return this.unmap(ticket);
    return this.execute(ticket, true, async (t) => {
      await this.zeroOut(t, false);
      this.counters.writes++;
      this.counters.bytesWritten += t.length;
    });
  }

  /**
   * Deallocates whole chunks (partial chunks at the edges are zeroed). The COW rule ran first in
   * execute(), so a discard never destroys a snapshot's data. The origin file stays the truth for
   * content: the blocks of unmapped chunks that held data go back to the file system (a punched
   * hole, or zeros where the file system or build has none), never-written ones are left as holes.
   */
  unmap(ticket: WriteTicket): Promise<void> {
    return this.execute(ticket, true, async (t) => {
      await this.zeroOut(t, true);
      this.counters.unmaps++;
    });
  }

  /**
   * Zeroes [offset, offset+length): only chunks that may hold data are touched (the mapped set is
   * exact after recovery thanks to write intents), so the cost follows allocated data, not the
   * range: a WRITE SAME/UNMAP over terabytes of holes is cheap.
   */
  private async zeroOut(t: AdmittedWrite, deallocate: boolean): Promise<void> {
    const cs = this.chunkSize;
    const size = this.vs.meta.sizeBytes;
    const end = t.offset + t.length;
    const touched: number[] = [];
    const released: number[] = [];
    for (const c of [...this.vs.mapped.membersInRange(t.entry.lo, t.entry.hi)]) {
      const from = Math.max(t.offset, c * cs);
      const to = Math.min(end, (c + 1) * cs, size);
      if (to <= from) continue;
      touched.push(c);
      // A whole chunk (or the volume's partial last chunk) is deallocated; edges stay mapped.
      if (deallocate && from === c * cs && (to === (c + 1) * cs || to === size)) released.push(c);
      else await this.zeroRange(from, to);
    }
    // Adjacent released chunks are one punch; like the zeros, it is synced before its record.
    for (const [lo, hi] of adjacentRuns(released)) {
      const from = lo * cs;
      const to = Math.min(hi * cs, size);
      if (!(await this.punchOrigin(from, to))) await this.zeroRange(from, to);
    }
    if (released.length > 0) {
      this.vouchedUnsynced = true;
      this.host.record({ type: "unmap", volKey: this.vs.meta.key, chunks: released });
    }
    this.noteWrittenChunks(touched, t.seq);
  }

  private async zeroRange(from: number, to: number): Promise<void> {
    for (let off = from; off < to; off += MAX_IO_BYTES) {
      await this.originWrite(ZEROES.subarray(0, Math.min(MAX_IO_BYTES, to - off)), off);
    }
  }

  private async punchOrigin(from: number, to: number): Promise<boolean> {
    if (!this.origin.punchHole) return false;
    try {
      return await this.origin.punchHole(from, to - from);
    } catch (err) {
      throw toEngineError(err, `origin hole punch at ${from}`);
    }
  }

  compareAndWrite(
    ticket: WriteTicket,
    expected: Uint8Array,
    data: Uint8Array,
  ): Promise<{ ok: true } | { ok: false; mismatchOffset: number }> {
    if (expected.length !== ticket.length || data.length !== ticket.length) {
      return this.rejectTicket(ticket, "expected and data must both be ticket.length bytes");
    }
    return this.execute(ticket, false, async (t) => {
      const current = Buffer.alloc(t.length);
      await this.originRead(current, t.offset);
      for (let i = 0; i < t.length; i++) {
        if (current[i] !== expected[i]) return { ok: false as const, mismatchOffset: i };
      }
      await this.markMapped(t.entry.lo, t.entry.hi);
      await this.originWrite(data, t.offset);
      this.noteWritten(t.entry.lo, t.entry.hi, t.seq);
      this.counters.writes++;
      this.counters.bytesWritten += t.length;
      return { ok: true as const };
    });
  }

  /**
   * Before origin data lands in chunks not yet mapped: their "map" record is queued first, and if
   * their region has no durable write intent, one is committed (group-committed, once per region
   * per flush epoch). After a crash, a chunk can hold data only if it is mapped or in an intent
   * region, and recovery scans intent regions: the mapped set is exact.
   */
  private allMapped(lo: number, hi: number): boolean {
    for (let c = lo; c < hi; c++) if (!this.vs.mapped.has(c)) return false;
    return true;
  }

  private async markMapped(lo: number, hi: number): Promise<void> {
    const fresh: number[] = [];
    for (let c = lo; c < hi; c++) if (!this.vs.mapped.has(c)) fresh.push(c);
    if (fresh.length === 0) return;
    const regions = new Set<number>();
    const inFlight = new Set<Promise<void>>();
    for (const c of fresh) {
      const r = Math.floor(c / REGION_CHUNKS);
      if (!this.vs.intents.has(r)) regions.add(r);
      else {
        // Another write queued this intent: it counts only once its commit is durable.
        const p = this.intentCommits.get(r);
        if (p) inFlight.add(p);
      }
    }
    if (regions.size > 0)
      this.host.record({ type: "intent", volKey: this.vs.meta.key, chunks: [...regions] });
    this.host.record({ type: "map", volKey: this.vs.meta.key, chunks: fresh });
    if (regions.size > 0) {
      const durable = this.host.log.commit();
      for (const r of regions) this.intentCommits.set(r, durable);
      inFlight.add(durable);
      void durable
        .finally(() => {
          for (const r of regions) if (this.intentCommits.get(r) === durable) this.intentCommits.delete(r);
        })
        .catch(() => undefined);
    }
    try {
      for (const p of inFlight) await p;
    } catch (err) {
      throw toEngineError(err, "metadata commit");
    }
  }

  private async rejectTicket(ticket: WriteTicket, why: string): Promise<never> {
    if (ticket instanceof AdmittedWrite && ticket.owner === this) this.cancel(ticket);
    throw new EngineError("invalid-argument", why);
  }

  /**
   * Runs one admitted write: waits for its turn on every chunk (admission order), then applies
   * the rollback and COW rules for its seq, waits until the COW copies are durable, then `body`
   * writes the origin.
   */
  private async execute<T>(
    ticket: WriteTicket,
    zeroing: boolean,
    body: (t: AdmittedWrite) => Promise<T>,
  ): Promise<T> {
    const t = this.claim(ticket);
    try {
      await this.locks.acquireWrite(t.entry);
      try {
        const copies = await this.prepareWrite(t, zeroing);
        await this.beforeOverwrite(copies);
        return await body(t);
      } finally {
        this.locks.releaseWrite(t.entry);
      }
    } finally {
      this.settle(t);
    }
  }

  /**
   * A write without FUA. Once the old chunks it must preserve are read into memory (and its data
   * copied: the caller may reuse its buffer), it is acknowledged; a background tail writes the
   * copies into the COW store, appends their record, waits for the commit round, issues the
   * origin overwrite and only then releases the chunks, so later writes and reads of those chunks
   * still wait for it. A write with nothing to preserve runs synchronously, as does one beyond
   * the tail caps.
   */
  private async executeWriteBack(ticket: WriteTicket, data: Uint8Array): Promise<void> {
    const t = this.claim(ticket);
    let handedOff = false;
    try {
      await this.locks.acquireWrite(t.entry);
      try {
        // No snapshot or rollback to honour (the common case): no async step before the overwrite.
        const plan = this.mustPrepare(t) ? await this.readForWrite(t, false) : null;
        const held = data.length + (plan?.bytes ?? 0);
        if (plan && this.tails.size < MAX_WRITE_BACK_TAILS && this.tailBytes + held <= MAX_WRITE_BACK_BYTES) {
          // The caller may reuse its buffer once acknowledged.
          const own = data.length === this.chunkSize ? this.buffers.take() : Buffer.allocUnsafe(data.length);
          own.set(data);
          this.startTail(t, plan, own, held);
          handedOff = true;
          this.countWrite(t);
          return;
        }
        if (plan) await this.beforeOverwrite(await this.storeCopies(plan));
        else if (this.relaxation) await this.beforeOverwrite(null);
        await this.writeData(t, data);
        this.countWrite(t);
      } finally {
        if (!handedOff) this.locks.releaseWrite(t.entry);
      }
    } finally {
      if (!handedOff) this.settle(t);
    }
  }

  /**
   * The rest of an acknowledged write-back write. Owns t's chunk locks, its inflight count and
   * `held` bytes of the tail budget (its data and the old chunks in `plan`).
   */
  private startTail(t: AdmittedWrite, plan: CowPlan, data: Buffer, held: number): void {
    this.tailBytes += held;
    this.unstored.add(plan);
    const tail = (async (): Promise<void> => {
      try {
        // Crash ordering, in code order: copies written and their record appended, then the
        // commit round makes both durable, and only then the origin overwrite.
        let copies: PendingCommit | null;
        try {
          copies = await this.storeCopies(plan, true);
        } finally {
          this.unstored.delete(plan);
          // Written (or failed) and checksummed: no I/O holds the old chunks any more.
          for (const b of plan.copies) this.buffers.give(b);
        }
        await this.beforeOverwrite(copies);
        try {
          await this.writeData(t, data);
        } finally {
          this.buffers.give(data);
        }
      } catch (err) {
        this.noteWriteBackError(t, toEngineError(err, "write-back"));
      } finally {
        this.locks.releaseWrite(t.entry);
        this.tails.delete(t);
        this.tailBytes -= held;
        this.settle(t);
      }
    })();
    this.tails.set(t, tail);
  }

  /** A background tail failed: logged, counted, and kept for the next flush() to report. */
  private noteWriteBackError(t: AdmittedWrite, err: EngineError): void {
    this.counters.writeBackErrors++;
    this.writeBackError ??= err;
    this.host.logger.error(
      { volume: this.vs.meta.name, offset: t.offset, length: t.length, code: err.code, err: err.message },
      "acknowledged write-back write failed; the next flush reports it",
    );
  }

  /** Selects the tails of writes acknowledged before t that are not durable yet (journalled atomic writes are). */
  private notDurableBefore(t: AdmittedWrite): (w: AdmittedWrite) => boolean {
    return (w) => w.seq < t.seq && !this.journalledTails.has(w);
  }

  /**
   * Waits for the background tails (present now) that `which` selects. Tails never reject.
   * Returns whether there were any.
   */
  private async waitForTails(which: (t: AdmittedWrite) => boolean): Promise<boolean> {
    const waits: Promise<void>[] = [];
    for (const [t, tail] of this.tails) if (which(t)) waits.push(tail);
    if (waits.length === 0) return false;
    // Someone waits now: start the tails' commit round instead of letting it gather more.
    this.host.log.commit().catch(() => undefined);
    await Promise.all(waits);
    return true;
  }

  /** Chunks of unstored copies, per snapshot they will be preserved in (resolved now). */
  private unstoredBySnapshot(): Map<SnapshotState, ChunkSet> {
    const out = new Map<SnapshotState, ChunkSet>();
    for (const plan of this.unstored) {
      const s = this.vs.snapshots[this.vs.newestIndexBefore(plan.seq)];
      if (!s?.valid) continue;
      const set = out.get(s) ?? new ChunkSet();
      out.set(s, set);
      for (const c of plan.chunks) set.add(c);
    }
    return out;
  }

  private claim(ticket: WriteTicket): AdmittedWrite {
    if (!(ticket instanceof AdmittedWrite) || ticket.owner !== this) {
      throw new EngineError("invalid-argument", "ticket was not admitted by this volume");
    }
    if (ticket.state !== "admitted")
      throw new EngineError("invalid-argument", "ticket already used or cancelled");
    ticket.state = "executing";
    this.inflight++;
    return ticket;
  }

  private settle(t: AdmittedWrite): void {
    t.state = "done";
    this.inflight--;
    if (this.inflight === 0) for (const w of this.idleWaiters.splice(0)) w();
  }

  /**
   * Caller holds t's chunks. Rollback restore and COW copies for t's seq; returns the commit that
   * makes the copies durable (null if none is needed), which must resolve before the overwrite.
   */
  private async prepareWrite(t: AdmittedWrite, zeroing: boolean): Promise<PendingCommit | null> {
    const plan = await this.readForWrite(t, zeroing);
    return plan ? this.storeCopies(plan) : null;
  }

  /**
   * Caller holds t's chunks. Rollback restore for t's seq, then reads the old chunks the COW rule
   * must preserve (null: none). storeCopies(plan) must run before the origin overwrite.
   */
  private async readForWrite(t: AdmittedWrite, zeroing: boolean): Promise<CowPlan | null> {
    if (!this.mustPrepare(t)) return null;
    const rb = this.vs.rollback;
    if (rb && t.seq > rb.seq) {
      for (const c of [...rb.pending.membersInRange(t.entry.lo, t.entry.hi)]) await this.restoreChunk(c);
    }
    return this.readCopies(t.seq, t.entry.lo, t.entry.hi, zeroing);
  }

  /**
   * The synchronous checks of a write holding its chunks; false when it has neither a rollback
   * restore nor a COW copy to make (readForWrite would return null).
   */
  private mustPrepare(t: AdmittedWrite): boolean {
    this.checkUsable();
    if (t.offset + t.length > this.vs.meta.sizeBytes) {
      throw new EngineError("out-of-range", "write past the end of the volume (resized)");
    }
    const rb = this.vs.rollback;
    if (rb && t.seq > rb.seq) return true;
    const target = this.vs.snapshots[this.vs.newestIndexBefore(t.seq)];
    if (target?.valid !== true) return false;
    // A later write (every chunk already preserved in that snapshot) needs no async step either.
    const { lo, hi } = t.entry;
    if (hi - lo > 64) return true;
    for (let c = lo; c < hi; c++) if (!target.table.has(c)) return true;
    return false;
  }

  /** Everything an origin overwrite must wait for: its COW copies, then a pending delete's commit. */
  private async beforeOverwrite(copies: PendingCommit | null): Promise<void> {
    try {
      if (copies) await copies.durable;
      if (this.relaxation) await this.relaxation;
    } catch (err) {
      throw toEngineError(err, "metadata commit");
    }
  }

  /**
   * The COW rule for chunks [lo, hi) (held exclusively) at `seq`: read, then store the copies.
   * Returns the commit the origin overwrite must await (null: nothing to wait for).
   */
  private async cowChunks(
    seq: number,
    lo: number,
    hi: number,
    zeroing: boolean,
  ): Promise<PendingCommit | null> {
    const plan = await this.readCopies(seq, lo, hi, zeroing);
    return plan ? this.storeCopies(plan) : null;
  }

  /**
   * First half of the COW rule. The write at `seq` preserves only into the newest snapshot older
   * than it (older snapshots fall through to that one), so its cost does not grow with their
   * number. Reads the chunks that snapshot lacks into memory (null: none). `zeroing`: the write
   * only zeroes, so unmapped chunks (already zero) need no copy. Copies are counted in the stats
   * here, when a write-back write is acknowledged; storeCopies uncounts the ones it drops.
   */
  private async readCopies(seq: number, lo: number, hi: number, zeroing: boolean): Promise<CowPlan | null> {
    const target = this.vs.snapshots[this.vs.newestIndexBefore(seq)];
    if (!target?.valid) return null;
    const chunks: number[] = [];
    const candidates = zeroing ? this.vs.mapped.membersInRange(lo, hi) : range(lo, hi);
    for (const c of candidates) if (!target.table.has(c)) chunks.push(c);
    if (chunks.length === 0) return null;

    const cs = this.chunkSize;
    const copies = await Promise.all(
      chunks.map(async (c) => {
        // An unmapped chunk is zeros (the mapped set is exact): nothing to read. A mapped one is
        // read whole (originRead zero-fills past the end of the file): no need to zero it first.
        if (!this.vs.mapped.has(c)) return Buffer.alloc(cs);
        const buf = this.buffers.take();
        await this.originRead(buf, c * cs);
        return buf;
      }),
    );
    const zero = copies.map(isZero);
    this.counters.cowCopies += chunks.length;
    this.counters.cowBytes += zero.filter((z) => !z).length * cs;
    return { seq, chunks, copies, zero, bytes: copies.length * cs };
  }

  /**
   * Second half of the COW rule, with the chunks still held: writes the copies into the COW
   * store, then queues their record; returns the commit that makes both durable (null: nothing
   * to wait for). The caller must await it before issuing the origin overwrite.
   */
  private async storeCopies(plan: CowPlan, lazy = false): Promise<PendingCommit | null> {
    const cs = this.chunkSize;
    const uncount = (i: number): void => {
      this.counters.cowCopies--;
      if (!plan.zero[i]) this.counters.cowBytes -= cs;
    };
    const uncountAll = (): void => {
      for (let i = 0; i < plan.chunks.length; i++) uncount(i);
    };
    const slots: number[] = [];
    try {
      for (let i = 0; i < plan.copies.length; i++) {
        if (plan.zero[i]) {
          slots.push(ZERO_SLOT);
          continue;
        }
        const slot = this.store.allocate();
        slots.push(slot);
        await this.store.writeSlot(slot, plan.copies[i] as Buffer);
      }
    } catch (err) {
      this.store.release(slots);
      uncountAll();
      const code = err instanceof EngineError ? err.code : errnoCode(err);
      // EFBIG: the store file reached the file system's largest file, as full as ENOSPC.
      if (code === "no-space" || code === "ENOSPC" || code === "EDQUOT" || code === "EFBIG") {
        await this.invalidateFrom(plan.seq, "COW store full");
        return null;
      }
      throw toEngineError(err, "COW store write");
    }
    // Re-resolve: a snapshot deleted (or invalidated) since the read handed its table to the next
    // older one.
    const now = this.vs.snapshots[this.vs.newestIndexBefore(plan.seq)];
    if (!now?.valid) {
      this.store.release(slots);
      uncountAll();
      return null;
    }
    const chunks: number[] = [];
    const kept: number[] = [];
    const crcs: number[] = [];
    for (let i = 0; i < plan.chunks.length; i++) {
      const c = plan.chunks[i] as number;
      const slot = slots[i] as number;
      if (now.table.has(c)) {
        this.store.release([slot]);
        uncount(i);
      } else {
        chunks.push(c);
        kept.push(slot);
        // Lets recovery tell a copy that reached the disk from one the crash cut off: the store
        // and the log are synced in parallel within a commit round.
        crcs.push(slot === ZERO_SLOT ? 0 : copyChecksum(plan.copies[i] as Buffer));
      }
    }
    if (chunks.length === 0) return null;
    this.host.record({
      type: "cow",
      volKey: this.vs.meta.key,
      snapKey: now.meta.key,
      chunks,
      slots: kept,
      crcs,
    });
    // Durable COW data + lookup entry BEFORE the caller issues the origin overwrite: the caller
    // awaits this (a write-back write after its acknowledgement, in its tail: `lazy`, its round may
    // gather more tails first).
    const durable = this.host.log.commit(lazy);
    // Handled here so a failing round is never an unhandled rejection; awaiting still throws.
    durable.catch(() => undefined);
    return { durable };
  }

  /** COW store full for the write at `seq`: its target snapshot and every older one lose data. */
  private async invalidateFrom(seq: number, reason: string): Promise<void> {
    const idx = this.vs.newestIndexBefore(seq);
    const victims = this.vs.snapshots.slice(0, idx + 1).filter((s) => s.valid);
    if (victims.length === 0) return;
    this.host.record({
      type: "snapshot-invalidate",
      volKey: this.vs.meta.key,
      snapKeys: victims.map((s) => s.meta.key),
      reason,
    });
    for (const s of victims) {
      this.host.logger.error(
        { volume: this.vs.meta.name, snapshot: s.meta.name, reason },
        "snapshot invalidated: its preserved data could not be stored",
      );
      this.host.events.emit("snapshot-invalidated", {
        volume: this.vs.meta.name,
        snapshot: s.meta.name,
        reason,
      });
    }
    // The invalid mark must be durable before the origin overwrite that breaks the snapshot.
    await this.host.log.commit();
  }

  // ---- reads -------------------------------------------------------------------------------

  async read(offset: number, length: number, into?: Uint8Array): Promise<Buffer> {
    this.checkUsable();
    this.checkRange(offset, length, this.vs.meta.sizeBytes);
    const buf = await this.readView(null, offset, length, into);
    this.counters.reads++;
    this.counters.bytesRead += length;
    return buf;
  }

  /**
   * Reads `view` (a snapshot, or null for the live volume) under shared chunk locks.
   * Per chunk: the view's own entry, else the next newer snapshot's, ..., else the origin.
   */
  private async readView(
    view: SnapshotState | null,
    offset: number,
    length: number,
    into?: Uint8Array,
  ): Promise<Buffer> {
    const cs = this.chunkSize;
    const lo = Math.floor(offset / cs);
    const hi = Math.ceil((offset + length) / cs);
    // Not zero-filled: every byte is written below by a file read (short reads zero their rest)
    // or by the explicit fill of a zero chunk. Zeroing up front cost ~8% of a 4 KiB read's CPU.
    const out = into ? intoView(into, length) : Buffer.allocUnsafe(length);
    const hold = await this.locks.acquireRead(lo, hi);
    try {
      const vs = this.vs;
      const rb = vs.rollback;
      const viewSeq = view ? view.meta.seq : Number.POSITIVE_INFINITY;
      const viewIndex = view ? vs.snapshots.indexOf(view) : vs.snapshots.length;
      if (viewIndex < 0) throw new EngineError("not-found", "snapshot was deleted");
      // Views newer than an in-progress rollback see the rollback's snapshot for chunks not yet restored.
      const rbIndex = rb && viewSeq > rb.seq ? vs.snapshotIndexByKey(rb.snapKey) : -1;
      const end = offset + length;
      let originFrom = -1;
      const flushOrigin = async (to: number): Promise<void> => {
        if (originFrom < 0) return;
        await this.originRead(out.subarray(originFrom - offset, to - offset), originFrom);
        originFrom = -1;
      };
      for (let c = lo; c < hi; c++) {
        const from = Math.max(offset, c * cs);
        const to = Math.min(end, (c + 1) * cs);
        const slot = rbIndex >= 0 && rb?.pending.has(c) ? vs.resolve(rbIndex, c) : vs.resolve(viewIndex, c);
        if (slot === null) {
          if (originFrom < 0) originFrom = from;
          continue;
        }
        await flushOrigin(from);
        if (slot === ZERO_SLOT) {
          out.fill(0, from - offset, to - offset);
          continue;
        }
        try {
          await this.store.readSlot(slot, from - c * cs, out, from - offset, to - from);
        } catch (err) {
          throw toEngineError(err, "COW store read");
        }
      }
      await flushOrigin(end);
    } finally {
      this.locks.releaseRead(hold);
    }
    return out;
  }

  // ---- durability --------------------------------------------------------------------------

  async flush(): Promise<void> {
    this.checkUsable();
    // Every write acknowledged before this call has reached the origin (or failed) first.
    await this.waitForTails(() => true);
    await this.syncOrigin();
    // Every map record is queued before its data is written, so a clear queued now can only
    // become durable after all of them: the regions need no scan after that.
    if (this.vs.intents.size > 0) {
      this.host.record({ type: "intent-clear", volKey: this.vs.meta.key, chunks: [...this.vs.intents] });
    }
    try {
      await this.host.log.commit();
    } catch (err) {
      throw toEngineError(err, "metadata commit");
    }
    // A write acknowledged earlier was lost in its background tail: this flush reports it, once.
    const lost = this.writeBackError;
    if (lost) {
      this.writeBackError = null;
      throw new EngineError(lost.code, `an acknowledged write failed in the background: ${lost.message}`);
    }
    this.counters.flushes++;
  }

  /**
   * Recovery: chunks of intent regions may hold data whose "map" record was lost. Scan them and
   * map every chunk that is not all zeros; then the intents are cleared.
   */
  async scanIntents(): Promise<number> {
    if (this.vs.intents.size === 0) return 0;
    const cs = this.chunkSize;
    const size = this.vs.meta.sizeBytes;
    const regionBytes = REGION_CHUNKS * cs;
    const found: number[] = [];
    const buf = Buffer.alloc(Math.min(MAX_IO_BYTES, regionBytes));
    const regions = [...this.vs.intents];
    for (const r of regions) {
      for (let off = r * regionBytes; off < Math.min((r + 1) * regionBytes, size); off += buf.length) {
        buf.fill(0);
        await this.originRead(buf, off);
        for (let at = 0; at < buf.length && off + at < size; at += cs) {
          const c = (off + at) / cs;
          if (!this.vs.mapped.has(c) && !isZero(buf.subarray(at, at + cs))) found.push(c);
        }
      }
    }
    if (found.length > 0) this.host.record({ type: "map", volKey: this.vs.meta.key, chunks: found });
    this.host.record({ type: "intent-clear", volKey: this.vs.meta.key, chunks: regions });
    await this.host.log.commit();
    return found.length;
  }

  private async syncOrigin(): Promise<void> {
    try {
      await this.originSync.sync();
    } catch (err) {
      throw toEngineError(err, "origin sync");
    }
  }

  // ---- management --------------------------------------------------------------------------

  async resize(sizeBytes: number): Promise<void> {
    this.checkUsable();
    const m = this.vs.meta;
    if (!Number.isSafeInteger(sizeBytes) || sizeBytes <= 0 || sizeBytes % m.blockSize !== 0) {
      throw new EngineError("invalid-argument", `size must be a positive multiple of ${m.blockSize}`);
    }
    if (sizeBytes < m.sizeBytes) {
      if (this.vs.snapshots.length > 0) {
        throw new EngineError("busy", "cannot shrink a volume that has snapshots (their data would be lost)");
      }
      if (this.vs.rollback) throw new EngineError("busy", "rollback in progress");
      // An acknowledged write must not land past the new end after the truncate.
      await this.waitForTails(() => true);
      await this.origin.truncate(sizeBytes);
      const firstGone = Math.ceil(sizeBytes / m.chunkSize);
      const gone = [...this.vs.mapped.sorted()].filter((c) => c >= firstGone);
      if (gone.length > 0) this.host.record({ type: "unmap", volKey: m.key, chunks: gone });
    }
    if (sizeBytes > m.sizeBytes) {
      // Sized like a new origin (see createVolume): a size the file system cannot hold fails
      // now. Growing never cuts a write in flight: they all end below the old size.
      try {
        await this.origin.truncate(sizeBytes);
      } catch (err) {
        throw tooLargeOr(err, sizeBytes, "growing origin image");
      }
    }
    this.host.record({ type: "volume-resize", volKey: m.key, sizeBytes });
    await this.host.log.commit();
    this.host.events.emit("volume-resized", { volume: this.info });
  }

  lbaStatus(offset: number, length: number): LbaStatusRange[] {
    this.checkUsable();
    this.checkRange(offset, length, this.vs.meta.sizeBytes);
    return this.lbaStatusOf(offset, length, [this.vs.mapped], (c) => this.vs.mapped.has(c));
  }

  /**
   * Mapped/unmapped ranges. Regions (4096 chunks) where none of `sets` has a member are skipped
   * whole, so a sparse 16 TiB volume answers quickly. Returns at most MAX_LBA_RANGES descriptors:
   * then they cover a prefix of the range (as GET LBA STATUS allows).
   */
  private lbaStatusOf(
    offset: number,
    length: number,
    sets: readonly ChunkSet[],
    mapped: (chunk: number) => boolean,
  ): LbaStatusRange[] {
    const cs = this.chunkSize;
    const end = offset + length;
    const out: LbaStatusRange[] = [];
    const push = (from: number, to: number, m: boolean): void => {
      const last = out[out.length - 1];
      if (last && last.mapped === m) last.length += to - from;
      else out.push({ offset: from, length: to - from, mapped: m });
    };
    let c = Math.floor(offset / cs);
    while (c * cs < end && out.length <= MAX_LBA_RANGES) {
      const regionStart = c - (c % REGION_CHUNKS);
      const regionEnd = regionStart + REGION_CHUNKS;
      if (sets.every((s) => s.countRange(regionStart, regionEnd) === 0)) {
        push(Math.max(offset, c * cs), Math.min(end, regionEnd * cs), false);
        c = regionEnd;
        continue;
      }
      push(Math.max(offset, c * cs), Math.min(end, (c + 1) * cs), mapped(c));
      c++;
    }
    if (out.length > MAX_LBA_RANGES) out.length = MAX_LBA_RANGES;
    return out;
  }

  createSnapshot(name: string): Promise<SnapshotInfo> {
    return this.host
      .createSnapshots([{ volume: this.vs.meta.name, snapshot: name }], false)
      .then((r) => r[0] as SnapshotInfo);
  }

  listSnapshots(): SnapshotInfo[] {
    this.checkUsable();
    return this.vs.snapshots.map((s) => this.snapshotInfo(s));
  }

  snapshotInfo(s: SnapshotState): SnapshotInfo {
    const info: SnapshotInfo = {
      name: s.meta.name,
      id: s.meta.id,
      volume: this.vs.meta.name,
      createdAt: s.meta.createdAt,
      seq: s.meta.seq,
      preservedChunks: s.table.size,
      preservedBytes: s.dataChunks * this.chunkSize,
      valid: s.valid,
    };
    if (s.invalidReason !== undefined) info.invalidReason = s.invalidReason;
    if (s.meta.group !== undefined) info.group = s.meta.group;
    return info;
  }

  private findSnapshot(name: string): SnapshotState {
    const s = this.vs.snapshotByName(name);
    if (!s || this.deleting.has(s)) {
      throw new EngineError("not-found", `snapshot ${name} not found on volume ${this.vs.meta.name}`);
    }
    return s;
  }

  getSnapshot(name: string): SnapshotReader {
    this.checkUsable();
    const snap = this.findSnapshot(name);
    const vol = this;
    return {
      get info() {
        return vol.snapshotInfo(snap);
      },
      sizeBytes: snap.meta.sizeBytes,
      blockSize: this.vs.meta.blockSize as LogicalBlockSize,
      read: (offset, length, into) => this.readSnapshot(snap, offset, length, into),
      lbaStatus: (offset, length) => {
        this.checkRange(offset, length, snap.meta.sizeBytes);
        const idx = this.vs.snapshots.indexOf(snap);
        const sets = [this.vs.mapped, ...this.vs.snapshots.slice(idx).map((s) => s.chunks)];
        return this.lbaStatusOf(offset, length, sets, (c) => {
          const slot = this.vs.resolve(idx, c);
          return slot === null ? this.vs.mapped.has(c) : slot !== ZERO_SLOT;
        });
      },
    };
  }

  private async readSnapshot(
    snap: SnapshotState,
    offset: number,
    length: number,
    into?: Uint8Array,
  ): Promise<Buffer> {
    this.checkUsable();
    if (this.deleting.has(snap) || !this.vs.snapshots.includes(snap)) {
      throw new EngineError("not-found", `snapshot ${snap.meta.name} was deleted`);
    }
    if (!snap.valid) {
      throw new EngineError(
        "snapshot-invalid",
        `snapshot ${snap.meta.name} is invalid: ${snap.invalidReason ?? ""}`,
      );
    }
    this.checkRange(offset, length, snap.meta.sizeBytes);
    this.snapshotReaders.set(snap, (this.snapshotReaders.get(snap) ?? 0) + 1);
    try {
      const buf = await this.readView(snap, offset, length, into);
      this.counters.reads++;
      this.counters.bytesRead += length;
      return buf;
    } finally {
      const n = (this.snapshotReaders.get(snap) ?? 1) - 1;
      if (n === 0) this.snapshotReaders.delete(snap);
      else this.snapshotReaders.set(snap, n);
      if (n === 0) for (const w of this.idleWaiters.splice(0)) w();
    }
  }

  /**
   * Hands the snapshot's entries to the next older snapshot: metadata only, no data copied, no
   * chunk lock taken. Waits only for reads of this very snapshot (their slots may be freed).
   */
  async deleteSnapshot(name: string): Promise<void> {
    this.checkUsable();
    const snap = this.findSnapshot(name);
    const rb = this.vs.rollback;
    if (rb && rb.snapKey === snap.meta.key)
      throw new EngineError("busy", "snapshot is the source of a rollback");
    this.deleting.add(snap);
    try {
      while ((this.snapshotReaders.get(snap) ?? 0) > 0)
        await new Promise<void>((r) => this.idleWaiters.push(r));
      const freed = this.host.record({
        type: "snapshot-delete",
        volKey: this.vs.meta.key,
        snapKey: snap.meta.key,
      });
      const durable = this.host.log.commit();
      this.relaxation = durable;
      try {
        await durable;
      } finally {
        if (this.relaxation === durable) this.relaxation = null;
      }
      // Slots become reusable only once no durable record references them; their blocks go back
      // to the file system first (in the background). Not while the delete's round is the log's
      // last: recovery checks the copies that round names and drops it if one does not match (its
      // store sync may not have finished), and a copy into this snapshot committed with its delete
      // names a freed slot. Punched or reused, that slot would make recovery drop a completed
      // round: the delete, and copies that acknowledged overwrites relied on. One more round first.
      if (freed.length > 0) {
        this.host.record({ type: "seq", next: this.host.stamp() + 1 });
        await this.host.log.commit();
      }
      this.store.releasePunched(freed);
    } finally {
      this.deleting.delete(snap);
    }
    this.host.events.emit("snapshot-deleted", { volume: this.vs.meta.name, snapshot: name });
  }

  // ---- rollback ----------------------------------------------------------------------------

  /**
   * Online rollback: stamped like a write at seq R. Chunks differing from the snapshot are
   * restored in the background; a write admitted after R restores its chunk first; reads after R
   * see the snapshot's content for chunks not yet restored. Resumed after a crash.
   */
  async rollback(snapshot: string, onProgress?: (p: RollbackProgress) => void): Promise<void> {
    this.checkUsable();
    const snap = this.findSnapshot(snapshot);
    if (!snap.valid) throw new EngineError("snapshot-invalid", `snapshot ${snapshot} is invalid`);
    if (this.vs.rollback) throw new EngineError("busy", "a rollback is already in progress");
    const seq = this.host.stamp();
    this.host.record({ type: "rollback-start", volKey: this.vs.meta.key, snapKey: snap.meta.key, seq });
    this.restoredClean = null;
    this.rollbackDirty = new ChunkSet();
    await this.host.log.commit();
    await this.resumeRollback(onProgress);
  }

  resumeRollback(onProgress?: (p: RollbackProgress) => void): Promise<void> {
    if (!this.rollbackRun) {
      this.rollbackRun = this.runRollback(onProgress).finally(() => {
        this.rollbackRun = null;
      });
    }
    return this.rollbackRun;
  }

  private async runRollback(onProgress?: (p: RollbackProgress) => void): Promise<void> {
    const rb = this.vs.rollback;
    if (!rb) return;
    const snap = this.vs.snapshots[this.vs.snapshotIndexByKey(rb.snapKey)] as SnapshotState;
    const progress = (): RollbackProgress => ({
      volume: this.vs.meta.name,
      snapshot: snap.meta.name,
      doneChunks: rb.done.size,
      totalChunks: rb.done.size + rb.pending.size,
    });
    for (;;) {
      while (rb.pending.size > 0) {
        if (this.closed) return;
        const batch: number[] = [];
        for (const c of rb.pending.sorted()) {
          batch.push(c);
          if (batch.length === 64) break;
        }
        await Promise.all(
          batch.map(async (c) => {
            const entry = this.locks.admitAt(rb.seq, c);
            await this.locks.acquireWrite(entry);
            try {
              if (rb.pending.has(c) && !this.closed) await this.restoreChunk(c);
            } finally {
              this.locks.releaseWrite(entry);
            }
          }),
        );
        // done == total is reported once, below, when the rollback's end is durable.
        if (rb.pending.size > 0) {
          const p = progress();
          onProgress?.(p);
          this.host.events.emit("rollback-progress", p);
        }
      }
      if (this.closed) return;
      // Writes admitted before R and acknowledged with their copies still in a tail: their cow
      // records add chunks to restore (pool-state), so the rollback cannot end before them.
      if (![...this.tails.keys()].some((t) => t.seq < rb.seq)) break;
      await this.waitForTails((t) => t.seq < rb.seq);
    }
    if (this.closed) return;
    this.host.record({ type: "rollback-end", volKey: this.vs.meta.key });
    const dirty = this.rollbackDirty;
    this.rollbackDirty = null;
    if (dirty) {
      const clean = new ChunkSet();
      for (const c of rb.done.sorted()) if (!dirty.has(c)) clean.add(c);
      this.restoredClean = { snap, chunks: clean };
    }
    await this.host.log.commit();
    const p = progress();
    onProgress?.(p);
    this.host.events.emit("rollback-progress", p);
    this.host.logger.info({ volume: this.vs.meta.name, snapshot: snap.meta.name }, "rollback complete");
  }

  /** Caller holds `chunk` exclusively. Writes the rollback snapshot's content of it into the origin. */
  private async restoreChunk(chunk: number): Promise<void> {
    const rb = this.vs.rollback;
    if (!rb) return;
    // The restore is a write at seq R: snapshots older than R must keep the current content.
    await this.beforeOverwrite(await this.cowChunks(rb.seq, chunk, chunk + 1, false));
    const cs = this.chunkSize;
    const size = this.vs.meta.sizeBytes;
    const len = Math.min(cs, size - chunk * cs);
    const slot = this.vs.resolve(this.vs.snapshotIndexByKey(rb.snapKey), chunk);
    if (len > 0 && slot !== null) {
      const buf = Buffer.alloc(len);
      if (slot !== ZERO_SLOT) await this.store.readSlot(slot, 0, buf, 0, len);
      if (slot !== ZERO_SLOT) await this.markMapped(chunk, chunk + 1);
      if (slot !== ZERO_SLOT || this.vs.mapped.has(chunk)) {
        await this.originWrite(buf, chunk * cs);
        this.vouchedUnsynced = true;
      }
      if (slot === ZERO_SLOT && this.vs.mapped.has(chunk)) {
        this.vouchedUnsynced = true;
        this.host.record({ type: "unmap", volKey: this.vs.meta.key, chunks: [chunk] });
      }
      this.noteWrittenChunks([chunk], "restore");
    }
    this.host.record({ type: "rollback-done", volKey: this.vs.meta.key, chunks: [chunk] });
  }

  // ---- inspection --------------------------------------------------------------------------

  blockMap(query: BlockMapQuery): BlockMap {
    this.checkUsable();
    const view = query.view === undefined ? null : this.findSnapshot(query.view);
    const since = query.since === undefined ? null : this.findSnapshot(query.since);
    const unchanged = view === null && since ? this.unchangedSince(since) : undefined;
    return buildBlockMap(this.vs, view, since, query, this.unstoredBySnapshot(), unchanged);
  }

  /** Chunks whose live content is known to equal `since`'s although its tables say changed. */
  private unchangedSince(since: SnapshotState): ChunkSet | undefined {
    return this.restoredClean?.snap === since ? this.restoredClean.chunks : undefined;
  }

  changedChunks(from: string, to?: string): ChangedChunks {
    this.checkUsable();
    const a = this.vs.snapshots.indexOf(this.findSnapshot(from));
    const b = to === undefined ? this.vs.snapshots.length : this.vs.snapshots.indexOf(this.findSnapshot(to));
    if (b < a) throw new EngineError("invalid-argument", `${to} is older than ${from}`);
    const union = new Set<number>();
    const unstored = this.unstoredBySnapshot();
    for (let i = a; i < b; i++) {
      const s = this.vs.snapshots[i] as SnapshotState;
      for (const c of s.table.keys()) union.add(c);
      for (const c of unstored.get(s)?.sorted() ?? []) union.add(c);
    }
    if (to === undefined)
      for (const c of this.unchangedSince(this.findSnapshot(from))?.sorted() ?? []) union.delete(c);
    const cs = this.chunkSize;
    const size = this.vs.meta.sizeBytes;
    const ranges: { offset: number; length: number }[] = [];
    for (const c of [...union].sort((x, y) => x - y)) {
      const off = c * cs;
      if (off >= size) continue;
      const len = Math.min(cs, size - off);
      const last = ranges[ranges.length - 1];
      if (last && last.offset + last.length === off) last.length += len;
      else ranges.push({ offset: off, length: len });
    }
    return { chunkSize: cs, ranges };
  }

  stats(): VolumeStats {
    return { ...this.counters };
  }

  // ---- lifecycle ---------------------------------------------------------------------------

  /**
   * Stops background work and waits for executing writes and write-back tails (they count as
   * inflight); the pool then closes the files.
   */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.locks.failWaiting(new EngineError("closed", `volume ${this.vs.meta.name} is closed`));
    if (this.rollbackRun) await this.rollbackRun.catch(() => undefined);
    while (this.inflight > 0) await new Promise<void>((r) => this.idleWaiters.push(r));
    await this.originSync.sync().catch(() => undefined);
  }

  // ---- helpers -----------------------------------------------------------------------------

  private checkUsable(): void {
    this.host.checkOpen();
    if (this.closed) throw new EngineError("closed", `volume ${this.vs.meta.name} is closed`);
  }

  private checkRange(offset: number, length: number, size: number): void {
    const bs = this.vs.meta.blockSize;
    if (!Number.isSafeInteger(offset) || !Number.isSafeInteger(length) || offset < 0 || length <= 0) {
      throw new EngineError(
        "invalid-argument",
        "offset and length must be non-negative integers, length > 0",
      );
    }
    if (offset % bs !== 0 || length % bs !== 0) {
      throw new EngineError(
        "invalid-argument",
        `offset and length must be multiples of the ${bs}-byte block`,
      );
    }
    if (offset + length > size) throw new EngineError("out-of-range", `range ends past ${size}`);
  }

  private async originWrite(data: Uint8Array, offset: number): Promise<void> {
    try {
      await this.origin.write(data, offset);
    } catch (err) {
      throw toEngineError(err, `origin write at ${offset}`);
    }
  }

  private async originRead(buf: Uint8Array, offset: number): Promise<void> {
    try {
      const n = await this.origin.read(buf, offset);
      if (n < buf.length) buf.fill(0, n);
    } catch (err) {
      throw toEngineError(err, `origin read at ${offset}`);
    }
  }

  /** "chunks-written" events for chunks [lo, hi) (batched per tick). */
  private noteWritten(lo: number, hi: number, seq: number): void {
    this.noteWrittenChunks(range(lo, hi), seq);
  }

  /**
   * `seq`: the writing write's admission stamp, or "restore" for a rollback's own restore. A write
   * admitted before a running rollback's stamp leaves its chunk to be restored after it, so only
   * later ones make a chunk dirty.
   */
  private noteWrittenChunks(chunks: Iterable<number>, seq: number | "restore"): void {
    const rbSeq = this.vs.rollback?.seq ?? 0;
    const clean = seq === "restore" ? null : (this.restoredClean?.chunks ?? null);
    const dirty = seq === "restore" || seq < rbSeq ? null : this.rollbackDirty;
    for (const c of chunks) {
      this.writtenChunks.push(c);
      clean?.delete(c);
      dirty?.add(c);
    }
    if (!this.eventScheduled && this.writtenChunks.length > 0) {
      this.eventScheduled = true;
      setImmediate(() => {
        this.eventScheduled = false;
        const written = this.writtenChunks;
        this.writtenChunks = [];
        if (written.length > 0)
          this.host.events.emit("chunks-written", { volume: this.vs.meta.name, chunks: written });
      });
    }
  }
}
