// The pool: a directory holding one origin image and one COW store per volume, plus the shared
// metadata log and its checkpoints. Opening a pool is recovery: newest checkpoint + log replay.
import { randomUUID } from "node:crypto";
import { EventEmitter } from "node:events";
import { mkdir } from "node:fs/promises";
import { crc32c } from "@livesnap/crc32c";
import type {
  CreateVolumeOptions,
  EngineLogger,
  PoolEvents,
  PoolHandle,
  PoolOptions,
  SnapshotInfo,
  VolumeHandle,
  VolumeInfo,
} from "./api.js";
import { type BlockStorage, FsBlockStorage } from "./block-file.js";
import { CowStore } from "./cow-store.js";
import { EngineError, toEngineError, tooLargeOr } from "./errors.js";
import { MetaLog, type RecoveryReport } from "./meta-log.js";
import { PoolLock } from "./pool-lock.js";
import { PoolState, type SnapshotState, type VolumeState } from "./pool-state.js";
import { copyChecksum, type MetaRecord, type SnapshotMeta } from "./records.js";
import { Volume, type VolumeHost } from "./volume.js";

/** Measured (bench/): 4 KiB chunks copy exactly what a first 4 KiB write after a snapshot must. */
export const DEFAULT_CHUNK_SIZE = 4096;
const DEFAULT_CHECKPOINT_BYTES = 64 * 1024 * 1024;
const MAX_NAME = 128;

/** Options beyond the public contract (tests, benchmarks, operators). */
export interface EngineOptions extends PoolOptions {
  /** Where bytes go; default the pool directory on the local file system. */
  storage?: BlockStorage;
  /** Capacity of each volume's COW store; a COW beyond it invalidates the snapshot. Default unlimited. */
  cowStoreLimitBytes?: number;
  /** Log size that triggers a checkpoint (bounds recovery time). */
  checkpointBytes?: number;
}

export interface EnginePool extends PoolHandle {
  readonly recovery: RecoveryReport & { recoveryMs: number };
}

const silentLogger: EngineLogger = { info() {}, warn() {}, error() {} };

function originName(id: string): string {
  return `vol-${id}.img`;
}
function storeName(id: string): string {
  return `vol-${id}.cow`;
}

function hasForbiddenChar(name: string): boolean {
  for (let i = 0; i < name.length; i++) {
    const c = name.charCodeAt(i);
    if (c < 0x20 || c === 0x7f || name[i] === "/" || name[i] === "\\") return true;
  }
  return false;
}

function checkName(kind: string, name: string): void {
  if (typeof name !== "string" || name.length === 0 || name.length > MAX_NAME || hasForbiddenChar(name)) {
    throw new EngineError(
      "invalid-argument",
      `${kind} name must be 1..${MAX_NAME} characters without / \\ or controls`,
    );
  }
}

function isPowerOfTwo(n: number): boolean {
  return Number.isSafeInteger(n) && n > 0 && (n & (n - 1)) === 0;
}

class Pool implements EnginePool, VolumeHost {
  readonly events = new EventEmitter<PoolEvents>();
  readonly volumes = new Map<number, Volume>();
  private closed = false;

  constructor(
    readonly dir: string,
    readonly storage: BlockStorage,
    readonly state: PoolState,
    readonly log: MetaLog,
    readonly logger: EngineLogger,
    private readonly opts: EngineOptions,
    readonly recovery: RecoveryReport & { recoveryMs: number },
    private readonly lock: PoolLock | null,
  ) {}

  record(rec: MetaRecord): number[] {
    const freed = this.state.apply(rec);
    this.log.append(rec);
    return freed;
  }

  stamp(): number {
    return this.state.nextSeq++;
  }

  checkOpen(): void {
    if (this.closed) throw new EngineError("closed", "pool is closed");
  }

  async attach(vs: VolumeState): Promise<Volume> {
    const origin = await this.storage.open(originName(vs.meta.id));
    const storeFile = await this.storage.open(storeName(vs.meta.id));
    const store = new CowStore(
      storeFile,
      vs.meta.chunkSize,
      this.opts.cowStoreLimitBytes ?? Number.MAX_SAFE_INTEGER,
    );
    store.initSlots(
      (function* () {
        for (const s of vs.snapshots) yield* s.table.values();
      })(),
    );
    const vol = new Volume(vs, origin, store, this);
    this.log.alongsideCommit.add(() => store.syncIfDirty());
    this.log.beforeCommit.add(() => vol.syncRestores());
    this.volumes.set(vs.meta.key, vol);
    return vol;
  }

  listVolumes(): VolumeInfo[] {
    this.checkOpen();
    return [...this.volumes.values()].map((v) => v.info);
  }

  getVolume(name: string): VolumeHandle {
    return this.volume(name);
  }

  private volume(name: string): Volume {
    this.checkOpen();
    const vs = this.state.volumeByName(name);
    const vol = vs && this.volumes.get(vs.meta.key);
    if (!vol) throw new EngineError("not-found", `volume ${name} not found`);
    return vol;
  }

  async createVolume(name: string, opts: CreateVolumeOptions): Promise<VolumeHandle> {
    this.checkOpen();
    checkName("volume", name);
    if (this.state.volumeByName(name))
      throw new EngineError("already-exists", `volume ${name} already exists`);
    const blockSize = opts.blockSize ?? 512;
    if (blockSize !== 512 && blockSize !== 4096)
      throw new EngineError("invalid-argument", "blockSize must be 512 or 4096");
    const chunkSize = opts.chunkSize ?? this.opts.chunkSize ?? DEFAULT_CHUNK_SIZE;
    if (!isPowerOfTwo(chunkSize) || chunkSize < blockSize || chunkSize > 1 << 20) {
      throw new EngineError("invalid-argument", `chunkSize must be a power of two in ${blockSize}..1048576`);
    }
    const sizeBytes = opts.sizeBytes;
    if (!Number.isSafeInteger(sizeBytes) || sizeBytes <= 0 || sizeBytes % blockSize !== 0) {
      throw new EngineError("invalid-argument", `sizeBytes must be a positive multiple of ${blockSize}`);
    }
    const key = this.state.nextKey++;
    const meta = {
      key,
      id: randomUUID(),
      name,
      sizeBytes,
      blockSize,
      chunkSize,
      createdAt: new Date().toISOString(),
    };
    // Files first: a crash before the record leaves only orphans, never a volume without files.
    // The origin is sized now (sparse: no blocks allocated) so a size the file system cannot
    // hold fails here, not as an I/O error on the volume's last chunk once an initiator writes
    // it (ext4 with 4 KiB blocks caps a file 4 KiB short of 16 TiB).
    try {
      const origin = await this.storage.open(originName(meta.id));
      try {
        await origin.truncate(0);
        await origin.truncate(sizeBytes);
        await origin.sync();
      } finally {
        await origin.close();
      }
    } catch (err) {
      await this.storage.remove(originName(meta.id)).catch(() => undefined);
      throw tooLargeOr(err, sizeBytes, "creating origin image");
    }
    if (this.state.volumeByName(name))
      throw new EngineError("already-exists", `volume ${name} already exists`);
    this.record({ type: "volume-create", volume: meta });
    await this.log.commit();
    const vol = await this.attach(this.state.volumes.get(key) as VolumeState);
    this.events.emit("volume-created", { volume: vol.info });
    return vol;
  }

  async deleteVolume(name: string): Promise<void> {
    const vol = this.volume(name);
    await vol.close();
    this.record({ type: "volume-delete", volKey: vol.vs.meta.key });
    await this.log.commit();
    this.volumes.delete(vol.vs.meta.key);
    await vol.origin.close();
    await vol.store.close();
    await this.storage.remove(originName(vol.vs.meta.id));
    await this.storage.remove(storeName(vol.vs.meta.id));
    this.events.emit("volume-deleted", { volume: name });
  }

  createGroupSnapshot(entries: { volume: string; snapshot: string }[]): Promise<SnapshotInfo[]> {
    return this.createSnapshots(entries, true);
  }

  /**
   * One admission stamp for every entry, taken synchronously (no await before it): writes
   * admitted earlier belong to the snapshots, later ones do not. No drain, no pause.
   */
  async createSnapshots(
    entries: { volume: string; snapshot: string }[],
    group: boolean,
  ): Promise<SnapshotInfo[]> {
    this.checkOpen();
    if (entries.length === 0) throw new EngineError("invalid-argument", "no snapshots requested");
    const vols = entries.map((e) => {
      checkName("snapshot", e.snapshot);
      const vol = this.volume(e.volume);
      if (vol.vs.snapshotByName(e.snapshot)) {
        throw new EngineError("already-exists", `snapshot ${e.snapshot} already exists on ${e.volume}`);
      }
      return vol;
    });
    if (new Set(vols).size !== vols.length)
      throw new EngineError("invalid-argument", "a volume appears twice in the group");
    const seq = this.stamp();
    const groupId = group ? randomUUID() : undefined;
    const createdAt = new Date().toISOString();
    const snapshots: SnapshotMeta[] = entries.map((e, i) => {
      const vol = vols[i] as Volume;
      const meta: SnapshotMeta = {
        volKey: vol.vs.meta.key,
        key: this.state.nextKey++,
        id: randomUUID(),
        name: e.snapshot,
        seq,
        sizeBytes: vol.vs.meta.sizeBytes,
        createdAt,
      };
      if (groupId) meta.group = groupId;
      return meta;
    });
    this.record({ type: "snapshot-create", snapshots });
    const infos = snapshots.map((m, i) => {
      const vol = vols[i] as Volume;
      return vol.snapshotInfo(vol.vs.snapshots.find((s) => s.meta.key === m.key) as SnapshotState);
    });
    // Durable before we answer; writes keep flowing meanwhile (the commit takes no chunk lock).
    await this.log.commit();
    infos.forEach((info, i) => {
      this.events.emit("snapshot-created", {
        volume: (entries[i] as { volume: string }).volume,
        snapshot: info,
      });
    });
    return infos;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    for (const vol of this.volumes.values()) await vol.close();
    this.closed = true;
    try {
      // A final checkpoint makes the next open replay nothing.
      await this.log.checkpoint();
      await this.log.close();
      for (const vol of this.volumes.values()) {
        await vol.origin.close();
        await vol.store.close();
      }
    } finally {
      await this.lock?.release();
    }
  }

  /** Files of volumes that no record knows: a crash between file creation and record, or delete. */
  async removeOrphans(): Promise<string[]> {
    const known = new Set<string>();
    for (const v of this.state.volumes.values()) {
      known.add(originName(v.meta.id));
      known.add(storeName(v.meta.id));
    }
    const orphans = (await this.storage.list()).filter((n) => /^vol-.*\.(img|cow)$/.test(n) && !known.has(n));
    for (const n of orphans) await this.storage.remove(n);
    return orphans;
  }
}

/** Recovery check of the last commit round: every COW copy it names must be on disk intact. */
async function verifyCopies(
  storage: BlockStorage,
  state: PoolState,
  records: MetaRecord[],
): Promise<boolean> {
  for (const rec of records) {
    if (rec.type !== "cow") continue;
    const vs = state.volumes.get(rec.volKey);
    if (!vs) continue;
    const file = await storage.open(storeName(vs.meta.id));
    try {
      const buf = Buffer.alloc(vs.meta.chunkSize);
      for (let i = 0; i < rec.slots.length; i++) {
        const slot = rec.slots[i] as number;
        if (slot < 0) continue;
        buf.fill(0);
        await file.read(buf, slot * vs.meta.chunkSize);
        const sum = rec.crc32cCopies ? crc32c(buf) : copyChecksum(buf);
        if (sum !== rec.crcs[i]) return false;
      }
    } finally {
      await file.close();
    }
  }
  return true;
}

export async function openPool(opts: EngineOptions): Promise<EnginePool> {
  if (!opts || typeof opts.dir !== "string" || opts.dir.length === 0) {
    throw new EngineError("invalid-argument", "pool dir is required");
  }
  if (
    opts.chunkSize !== undefined &&
    (!isPowerOfTwo(opts.chunkSize) || opts.chunkSize < 512 || opts.chunkSize > 1 << 20)
  ) {
    throw new EngineError("invalid-argument", "chunkSize must be a power of two in 512..1048576");
  }
  const started = performance.now();
  const storage = opts.storage ?? new FsBlockStorage(opts.dir);
  // A custom storage (tests) is responsible for its own exclusivity.
  let lock: PoolLock | null = null;
  if (!opts.storage) {
    await mkdir(opts.dir, { recursive: true });
    lock = await PoolLock.acquire(opts.dir);
  }
  const state = new PoolState();
  let opened: Awaited<ReturnType<typeof MetaLog.open>>;
  try {
    opened = await MetaLog.open(
      storage,
      state,
      opts.checkpointBytes ?? DEFAULT_CHECKPOINT_BYTES,
      (st, records) => verifyCopies(storage, st, records),
    );
  } catch (err) {
    await lock?.release();
    throw toEngineError(err, `opening pool ${opts.dir}`);
  }
  const logger = opts.logger ?? silentLogger;
  const recovery = { ...opened.report, recoveryMs: 0 };
  const pool = new Pool(opts.dir, storage, state, opened.log, logger, opts, recovery, lock);
  const orphans = await pool.removeOrphans();
  if (orphans.length > 0)
    logger.warn({ files: orphans }, "removed files of volumes that were never created or were deleted");
  for (const vs of state.volumes.values()) {
    const vol = await pool.attach(vs);
    const completed = await vol.completeAtomicWrites();
    if (completed > 0)
      logger.info({ volume: vs.meta.name, writes: completed }, "completed journalled atomic writes");
    // Chunks written since the last flush may lack their (lazily logged) map records.
    const found = await vol.scanIntents();
    if (found > 0)
      logger.info({ volume: vs.meta.name, chunks: found }, "re-mapped chunks found by write-intent scan");
  }
  recovery.recoveryMs = performance.now() - started;
  logger.info({ dir: opts.dir, volumes: state.volumes.size, ...recovery }, "pool opened");
  for (const vol of pool.volumes.values()) {
    if (vol.vs.rollback) {
      logger.warn({ volume: vol.vs.meta.name }, "resuming interrupted rollback");
      vol.resumeRollback().catch((err: unknown) => {
        logger.error({ volume: vol.vs.meta.name, err: String(err) }, "rollback failed");
      });
    }
  }
  return pool;
}
