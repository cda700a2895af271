// The pool's metadata in memory: volumes, their snapshots' lookup tables, the origin's mapped
// chunks and an in-progress rollback. Both recovery (replaying records) and the live data path
// mutate it only through apply(), so what is replayed is exactly what was done.
import { ChunkSet } from "./chunk-set.js";
import type { MetaRecord, SnapshotMeta, VolumeMeta } from "./records.js";

/** Slot value of a preserved chunk that was all zeros: nothing stored in the COW store. */
export const ZERO_SLOT = -1;

export class SnapshotState {
  /** chunk -> slot in the volume's COW store (ZERO_SLOT: preserved zeros). */
  table = new Map<number, number>();
  /** The table's keys, for range counts in block maps. */
  chunks = new ChunkSet();
  dataChunks = 0;
  valid = true;
  invalidReason: string | undefined;

  constructor(readonly meta: SnapshotMeta) {}

  setEntry(chunk: number, slot: number): void {
    const old = this.table.get(chunk);
    if (old === undefined) this.chunks.add(chunk);
    else if (old !== ZERO_SLOT) this.dataChunks--;
    if (slot !== ZERO_SLOT) this.dataChunks++;
    this.table.set(chunk, slot);
  }
}

export interface RollbackState {
  snapKey: number;
  /** Admission stamp of the rollback: it acts as a write of the snapshot's content at this seq. */
  seq: number;
  /** Chunks whose origin content still differs from the snapshot's. */
  pending: ChunkSet;
  done: ChunkSet;
}

export class VolumeState {
  /** Oldest first; seqs strictly increasing. */
  snapshots: SnapshotState[] = [];
  /** Origin chunks that hold data (thin provisioning accounting). */
  mapped = new ChunkSet();
  rollback: RollbackState | null = null;
  /** Regions (chunk / REGION_CHUNKS) with a durable write intent not yet cleared. */
  intents = new Set<number>();
  /**
   * Journalled atomic writes whose origin data may not be durable yet, by admission seq: after a
   * crash they are written again (a torn one is completed). At most one per byte range at a time:
   * a later write of the same bytes waits for the retire.
   */
  atomicPending = new Map<number, { offset: number; data: Buffer }>();

  constructor(public meta: VolumeMeta) {}

  snapshotIndexByKey(key: number): number {
    return this.snapshots.findIndex((s) => s.meta.key === key);
  }

  snapshotByName(name: string): SnapshotState | undefined {
    return this.snapshots.find((s) => s.meta.name === name);
  }

  /** Index of the newest snapshot whose seq is below `seq` (the one a write at `seq` preserves into), or -1. */
  newestIndexBefore(seq: number): number {
    let lo = 0;
    let hi = this.snapshots.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if ((this.snapshots[mid] as SnapshotState).meta.seq < seq) lo = mid + 1;
      else hi = mid;
    }
    return lo - 1;
  }

  /**
   * Where view `fromIndex` (a snapshot index; snapshots.length = the live volume) finds `chunk`:
   * a slot in the COW store (or ZERO_SLOT), or null for the origin.
   */
  resolve(fromIndex: number, chunk: number): number | null {
    for (let i = fromIndex; i < this.snapshots.length; i++) {
      const slot = (this.snapshots[i] as SnapshotState).table.get(chunk);
      if (slot !== undefined) return slot;
    }
    return null;
  }

  /**
   * Deletes a snapshot by handing its entries to the next older one (metadata only). Costs
   * O(smaller table): the bigger map is kept and the smaller merged into it.
   * Returns the store slots nobody references any more.
   */
  removeSnapshot(index: number): number[] {
    const dead = this.snapshots[index] as SnapshotState;
    const older = index > 0 ? (this.snapshots[index - 1] as SnapshotState) : undefined;
    this.snapshots.splice(index, 1);
    const freed: number[] = [];
    if (!older) {
      for (const slot of dead.table.values()) if (slot !== ZERO_SLOT) freed.push(slot);
      return freed;
    }
    if (older.table.size >= dead.table.size) {
      for (const [chunk, slot] of dead.table) {
        if (older.table.has(chunk)) {
          if (slot !== ZERO_SLOT) freed.push(slot);
        } else older.setEntry(chunk, slot);
      }
    } else {
      // The older snapshot's own entries win; adopt the dead one's (bigger) structures.
      for (const [chunk, slot] of older.table) {
        const deadSlot = dead.table.get(chunk);
        if (deadSlot !== undefined && deadSlot !== ZERO_SLOT) freed.push(deadSlot);
        dead.setEntry(chunk, slot);
      }
      older.table = dead.table;
      older.chunks = dead.chunks;
      older.dataChunks = dead.dataChunks;
    }
    return freed;
  }

  /** Chunks whose content differs between snapshot `index` and the origin: union of tables from it on. */
  changedSince(index: number): ChunkSet {
    const out = new ChunkSet();
    for (let i = index; i < this.snapshots.length; i++) {
      for (const c of (this.snapshots[i] as SnapshotState).table.keys()) out.add(c);
    }
    return out;
  }
}

export class PoolState {
  readonly volumes = new Map<number, VolumeState>();
  /** Next admission stamp (writes and snapshots share the counter). */
  nextSeq = 1;
  /** Next volume/snapshot key (small numbers naming them in binary records). */
  nextKey = 1;

  volumeByName(name: string): VolumeState | undefined {
    for (const v of this.volumes.values()) if (v.meta.name === name) return v;
    return undefined;
  }

  /** Applies one record. Idempotent: a checkpoint may already contain a record's effect. */
  apply(rec: MetaRecord): number[] {
    switch (rec.type) {
      case "volume-create":
        if (!this.volumes.has(rec.volume.key))
          this.volumes.set(rec.volume.key, new VolumeState({ ...rec.volume }));
        this.bumpKey(rec.volume.key);
        return [];
      case "volume-delete":
        this.volumes.delete(rec.volKey);
        return [];
      case "volume-resize": {
        const v = this.volumes.get(rec.volKey);
        if (v) v.meta.sizeBytes = rec.sizeBytes;
        return [];
      }
      case "snapshot-create":
        for (const s of rec.snapshots) {
          const v = this.volumes.get(s.volKey);
          this.bumpKey(s.key);
          if (s.seq >= this.nextSeq) this.nextSeq = s.seq + 1;
          if (!v || v.snapshotIndexByKey(s.key) >= 0) continue;
          v.snapshots.push(new SnapshotState({ ...s }));
          v.snapshots.sort((a, b) => a.meta.seq - b.meta.seq);
        }
        return [];
      case "snapshot-delete": {
        const v = this.volumes.get(rec.volKey);
        const i = v ? v.snapshotIndexByKey(rec.snapKey) : -1;
        return v && i >= 0 ? v.removeSnapshot(i) : [];
      }
      case "snapshot-invalidate": {
        const v = this.volumes.get(rec.volKey);
        for (const key of rec.snapKeys) {
          const s = v?.snapshots.find((x) => x.meta.key === key);
          if (s) {
            s.valid = false;
            s.invalidReason = rec.reason;
          }
        }
        return [];
      }
      case "rollback-start": {
        const v = this.volumes.get(rec.volKey);
        if (rec.seq >= this.nextSeq) this.nextSeq = rec.seq + 1;
        if (!v || v.rollback) return [];
        const i = v.snapshotIndexByKey(rec.snapKey);
        if (i < 0) return [];
        v.rollback = { snapKey: rec.snapKey, seq: rec.seq, pending: v.changedSince(i), done: new ChunkSet() };
        return [];
      }
      case "rollback-done": {
        const rb = this.volumes.get(rec.volKey)?.rollback;
        if (rb) {
          for (const c of rec.chunks) {
            rb.pending.delete(c);
            rb.done.add(c);
          }
        }
        return [];
      }
      case "rollback-end": {
        const v = this.volumes.get(rec.volKey);
        if (v) v.rollback = null;
        return [];
      }
      case "seq":
        if (rec.next > this.nextSeq) this.nextSeq = rec.next;
        return [];
      case "cow": {
        const v = this.volumes.get(rec.volKey);
        if (!v) return [];
        const i = v.snapshotIndexByKey(rec.snapKey);
        const s = v.snapshots[i];
        if (!s) return [];
        const rb = v.rollback;
        const rbIndex = rb ? v.snapshotIndexByKey(rb.snapKey) : -1;
        for (let k = 0; k < rec.chunks.length; k++) {
          const c = rec.chunks[k] as number;
          s.setEntry(c, rec.slots[k] as number);
          // A write admitted before the rollback changed this chunk after the rollback began.
          if (rb && i >= rbIndex && !rb.done.has(c)) rb.pending.add(c);
        }
        return [];
      }
      case "map": {
        const v = this.volumes.get(rec.volKey);
        if (v) for (const c of rec.chunks) v.mapped.add(c);
        return [];
      }
      case "unmap": {
        const v = this.volumes.get(rec.volKey);
        if (v) for (const c of rec.chunks) v.mapped.delete(c);
        return [];
      }
      case "intent": {
        const v = this.volumes.get(rec.volKey);
        if (v) for (const r of rec.chunks) v.intents.add(r);
        return [];
      }
      case "intent-clear": {
        const v = this.volumes.get(rec.volKey);
        if (v) for (const r of rec.chunks) v.intents.delete(r);
        return [];
      }
      case "atomic-write": {
        const v = this.volumes.get(rec.volKey);
        if (v) v.atomicPending.set(rec.seq, { offset: rec.offset, data: rec.data });
        if (rec.seq >= this.nextSeq) this.nextSeq = rec.seq + 1;
        return [];
      }
      case "atomic-retire": {
        const v = this.volumes.get(rec.volKey);
        if (v) for (const seq of rec.seqs) v.atomicPending.delete(seq);
        return [];
      }
      case "end":
      case "round":
        return [];
    }
  }

  private bumpKey(key: number): void {
    if (key >= this.nextKey) this.nextKey = key + 1;
  }

  /** The whole state as records: the body of a checkpoint. */
  *toRecords(): IterableIterator<MetaRecord> {
    yield { type: "seq", next: this.nextSeq };
    const BATCH = 65536;
    for (const v of this.volumes.values()) {
      yield { type: "volume-create", volume: { ...v.meta } };
      for (const s of v.snapshots) {
        yield { type: "snapshot-create", snapshots: [{ ...s.meta }] };
        if (!s.valid) {
          yield {
            type: "snapshot-invalidate",
            volKey: v.meta.key,
            snapKeys: [s.meta.key],
            reason: s.invalidReason ?? "",
          };
        }
        // Checkpoints are written after the COW data is synced: no copy checksums needed.
        let chunks: number[] = [];
        let slots: number[] = [];
        for (const [c, slot] of s.table) {
          chunks.push(c);
          slots.push(slot);
          if (chunks.length === BATCH) {
            yield { type: "cow", volKey: v.meta.key, snapKey: s.meta.key, chunks, slots, crcs: [] };
            chunks = [];
            slots = [];
          }
        }
        if (chunks.length > 0) {
          yield { type: "cow", volKey: v.meta.key, snapKey: s.meta.key, chunks, slots, crcs: [] };
        }
      }
      let mapped: number[] = [];
      for (const c of v.mapped.sorted()) {
        mapped.push(c);
        if (mapped.length === BATCH) {
          yield { type: "map", volKey: v.meta.key, chunks: mapped };
          mapped = [];
        }
      }
      if (mapped.length > 0) yield { type: "map", volKey: v.meta.key, chunks: mapped };
      if (v.intents.size > 0) yield { type: "intent", volKey: v.meta.key, chunks: [...v.intents] };
      for (const [seq, w] of v.atomicPending) {
        yield { type: "atomic-write", volKey: v.meta.key, seq, offset: w.offset, data: w.data };
      }
      const rb = v.rollback;
      if (rb) {
        yield { type: "rollback-start", volKey: v.meta.key, snapKey: rb.snapKey, seq: rb.seq };
        let done: number[] = [];
        for (const c of rb.done.sorted()) {
          done.push(c);
          if (done.length === BATCH) {
            yield { type: "rollback-done", volKey: v.meta.key, chunks: done };
            done = [];
          }
        }
        // Chunks in the recomputed union that are not pending any more count as done too.
        const union = v.changedSince(v.snapshotIndexByKey(rb.snapKey));
        for (const c of union.sorted()) if (!rb.pending.has(c) && !rb.done.has(c)) done.push(c);
        if (done.length > 0) yield { type: "rollback-done", volKey: v.meta.key, chunks: done };
      }
    }
  }
}
