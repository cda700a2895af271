// Every byte the engine persists goes through these two interfaces, so crash tests can record the
// exact sequence of writes and syncs and replay crash states onto real files.
import {
  close,
  constants,
  fdatasync,
  fstat,
  fsync,
  ftruncate,
  open as openFd,
  read,
  readSync,
  readv,
  type Stats,
  write,
  writeSync,
  writev,
} from "node:fs";
import { mkdir, readdir, rename, rm } from "node:fs/promises";
import { constants as osConstants } from "node:os";
import { join } from "node:path";
import { getSystemErrorName } from "node:util";
import { inlineIo } from "./inline-io.js";
import { type PositionedIo, toRuns } from "./io-runs.js";
import { nativePunchHole } from "./punch-hole.js";

export interface BlockFile {
  /** Reads up to buf.length bytes at position; returns bytes read (short only at end of file). */
  read(buf: Uint8Array, position: number): Promise<number>;
  write(data: Uint8Array, position: number): Promise<void>;
  /** Makes every completed write durable (fdatasync). */
  sync(): Promise<void>;
  size(): Promise<number>;
  truncate(size: number): Promise<void>;
  /**
   * Gives [position, position+length) back to the file system (reads return zeros; durable with
   * the next sync). Resolves false, changing nothing, where holes cannot be punched: the caller
   * writes zeros instead. Optional: storages without it are treated the same way.
   */
  punchHole?(position: number, length: number): Promise<boolean>;
  close(): Promise<void>;
}

export interface BlockStorage {
  /** Opens (creating if missing) a file of the pool directory. */
  open(name: string): Promise<BlockFile>;
  list(): Promise<string[]>;
  /** Removes a file (durability of the removal is not required: stale files are ignored). */
  remove(name: string): Promise<void>;
  /** Atomic and durable (the directory is synced) replace of `to` by `from`. */
  rename(from: string, to: string): Promise<void>;
}

function closedError(): Error {
  return Object.assign(new Error("EBADF: block file is closed"), { code: "EBADF" });
}

function openRaw(path: string, flags: number, mode?: number): Promise<number> {
  return new Promise((resolve, reject) => {
    openFd(path, flags, mode, (err, fd) => (err ? reject(err) : resolve(fd)));
  });
}

function closeRaw(fd: number): Promise<void> {
  return new Promise((resolve, reject) => {
    close(fd, (err) => (err ? reject(err) : resolve()));
  });
}

type IoDone = (err: NodeJS.ErrnoException | null, n: number) => void;

interface QueuedIo extends PositionedIo {
  readonly done: IoDone;
}

/** Reads buf fully at position, looping on short reads until the end of the file; n = bytes read. */
function readAll(fd: number, buf: Uint8Array, position: number, done: IoDone): void {
  let got = 0;
  // Loops only on a short read that is not the end of the file (rare).
  const step = (err: NodeJS.ErrnoException | null, n: number): void => {
    if (err) {
      done(err, got);
      return;
    }
    got += n;
    if (n === 0 || got >= buf.length) {
      done(null, got);
      return;
    }
    read(fd, buf, got, buf.length - got, position + got, step);
  };
  read(fd, buf, 0, buf.length, position, step);
}

/** Writes data fully at position (loops on short writes). */
function writeAll(fd: number, data: Uint8Array, position: number, done: IoDone): void {
  if (data.length === 0) {
    done(null, 0);
    return;
  }
  let put = 0;
  const step = (err: NodeJS.ErrnoException | null, n: number): void => {
    if (err) {
      done(err, put);
      return;
    }
    put += n;
    if (put >= data.length) {
      done(null, put);
      return;
    }
    write(fd, data, put, data.length - put, position + put, step);
  };
  write(fd, data, 0, data.length, position, step);
}

/**
 * One readv/writev for a run of adjacent I/Os. A short transfer (end of file for reads, rare for
 * writes) finishes each unfinished I/O on its own, so every caller sees exactly what a single
 * read or write would have given it.
 */
function transferRun(fd: number, run: readonly QueuedIo[], isWrite: boolean): void {
  const bufs = run.map((io) => io.buf);
  const position = (run[0] as QueuedIo).position;
  const after = (err: NodeJS.ErrnoException | null, n: number): void => {
    if (err) {
      for (const io of run) io.done(err, 0);
      return;
    }
    let left = n;
    for (const io of run) {
      const len = io.buf.length;
      const got = Math.min(left, len);
      left -= got;
      if (got === len) {
        io.done(null, len);
        continue;
      }
      const rest = io.buf.subarray(got);
      const finish: IoDone = (e, m) => io.done(e, got + m);
      if (isWrite) writeAll(fd, rest, io.position + got, finish);
      else readAll(fd, rest, io.position + got, finish);
    }
  };
  if (isWrite) writev(fd, bufs, position, after);
  else readv(fd, bufs, position, after);
}

function readAllSync(fd: number, buf: Uint8Array, position: number): number {
  let got = 0;
  while (got < buf.length) {
    const n = readSync(fd, buf, got, buf.length - got, position + got);
    if (n === 0) break;
    got += n;
  }
  return got;
}

function writeAllSync(fd: number, data: Uint8Array, position: number): void {
  let put = 0;
  while (put < data.length) put += writeSync(fd, data, put, data.length - put, position + put);
}

/**
 * A file on a raw fd with node:fs callback calls, one promise per I/O. The FileHandle promise API
 * cost about 45% more main-thread CPU per 4 KiB write (its extra async frames and per-call
 * objects). Without a FileHandle, nothing closes the fd for us: close() is explicit, waits for the
 * calls in flight (the fd number could be reused by another open), and later calls reject.
 *
 * A read or write runs inline (synchronously on the event loop) when inline-io.ts allows it: the
 * page cache is serving and the I/O is small. Otherwise it is queued and issued at the end of the
 * event-loop turn (setImmediate), writes of a turn before its reads: inline then if only the
 * turn's inline budget had refused it, else in the thread pool, adjacent ones merged into one
 * readv/writev (io-runs.ts). Either way each I/O resolves on its own, and I/Os of one turn were
 * concurrent before too.
 */
class FsBlockFile implements BlockFile {
  /** -1 once close() is called: new calls reject. */
  private fd: number;
  /** The fd queued I/O uses; close() waits for it to drain before closing. */
  private readonly rawFd: number;
  private inflight = 0;
  private onIdle: (() => void) | null = null;
  private queuedWrites: QueuedIo[] = [];
  private queuedReads: QueuedIo[] = [];
  private issueScheduled = false;

  constructor(fd: number) {
    this.fd = fd;
    this.rawFd = fd;
  }

  private done(): void {
    if (--this.inflight === 0 && this.onIdle) this.onIdle();
  }

  private readonly issueQueued = (): void => {
    this.issueScheduled = false;
    const writes = this.queuedWrites;
    const reads = this.queuedReads;
    this.queuedWrites = [];
    this.queuedReads = [];
    const poolWrites = this.issueInline(writes, true, this.queuedWrites);
    const poolReads = this.issueInline(reads, false, this.queuedReads);
    if (!this.issueScheduled && this.queuedWrites.length + this.queuedReads.length > 0) {
      this.issueScheduled = true;
      setImmediate(this.issueQueued);
    }
    for (const run of poolWrites.length > 0 ? toRuns(poolWrites) : []) this.issue(run, true);
    for (const run of poolReads.length > 0 ? toRuns(poolReads) : []) this.issue(run, false);
  };

  /**
   * A turn after they were queued: runs inline the I/Os the policy allows now, moves to `later`
   * (the next turn) those refused only for this turn's budget, returns the rest for the pool.
   */
  private issueInline(queued: QueuedIo[], isWrite: boolean, later: QueuedIo[]): QueuedIo[] {
    const forPool: QueuedIo[] = [];
    for (const io of queued) {
      if (inlineIo.allows(io.buf.length)) this.runInline(io, isWrite);
      else if (inlineIo.deferrable(io.buf.length)) later.push(io);
      else forPool.push(io);
    }
    return forPool;
  }

  private runInline(io: QueuedIo, isWrite: boolean): void {
    const t0 = inlineIo.now();
    let n: number;
    try {
      if (isWrite) {
        writeAllSync(this.rawFd, io.buf, io.position);
        n = io.buf.length;
      } else {
        n = readAllSync(this.rawFd, io.buf, io.position);
      }
    } catch (err) {
      io.done(err as NodeJS.ErrnoException, 0);
      return;
    }
    inlineIo.took(t0, io.buf.length);
    io.done(null, n);
  }

  private issue(run: readonly QueuedIo[], isWrite: boolean): void {
    const io = run[0] as QueuedIo;
    try {
      if (run.length > 1) transferRun(this.rawFd, run, isWrite);
      else if (isWrite) writeAll(this.rawFd, io.buf, io.position, io.done);
      else readAll(this.rawFd, io.buf, io.position, io.done);
    } catch (err) {
      // node:fs argument checks throw synchronously; here that must fail the I/Os, not the process.
      for (const each of run) each.done(err as NodeJS.ErrnoException, 0);
    }
  }

  private enqueue(queue: QueuedIo[], buf: Uint8Array, position: number, done: IoDone): void {
    this.inflight++;
    queue.push({ buf, position, done });
    if (!this.issueScheduled) {
      this.issueScheduled = true;
      setImmediate(this.issueQueued);
    }
  }

  read(buf: Uint8Array, position: number): Promise<number> {
    if (this.fd < 0) return Promise.reject(closedError());
    if (inlineIo.allows(buf.length)) {
      const t0 = inlineIo.now();
      try {
        const n = readAllSync(this.fd, buf, position);
        inlineIo.took(t0, buf.length);
        return Promise.resolve(n);
      } catch (err) {
        return Promise.reject(err);
      }
    }
    return new Promise((resolve, reject) => {
      this.enqueue(this.queuedReads, buf, position, (err, n) => {
        this.done();
        if (err) reject(err);
        else resolve(n);
      });
    });
  }

  write(data: Uint8Array, position: number): Promise<void> {
    if (this.fd < 0) return Promise.reject(closedError());
    if (data.length === 0) return Promise.resolve();
    if (inlineIo.allows(data.length)) {
      const t0 = inlineIo.now();
      try {
        writeAllSync(this.fd, data, position);
        inlineIo.took(t0, data.length);
        return Promise.resolve();
      } catch (err) {
        return Promise.reject(err);
      }
    }
    return new Promise((resolve, reject) => {
      this.enqueue(this.queuedWrites, data, position, (err) => {
        this.done();
        if (err) reject(err);
        else resolve();
      });
    });
  }

  sync(): Promise<void> {
    return this.call((fd, cb) => fdatasync(fd, cb));
  }

  size(): Promise<number> {
    return this.call<Stats>((fd, cb) => fstat(fd, cb)).then((st) => st.size);
  }

  truncate(size: number): Promise<void> {
    return this.call((fd, cb) => ftruncate(fd, size, cb));
  }

  /** Set once the file system answers that it has no holes: later calls skip the round trip. */
  private noHoles = false;

  punchHole(position: number, length: number): Promise<boolean> {
    const punch = nativePunchHole();
    if (!punch || this.noHoles) return Promise.resolve(false);
    return this.call<boolean>((fd, cb) =>
      punch(fd, position, length, (errno) => {
        if (errno === 0) cb(null, true);
        else if (errno === osConstants.errno.EOPNOTSUPP || errno === osConstants.errno.ENOSYS) {
          this.noHoles = true;
          cb(null, false);
        } else {
          const code = getSystemErrorName(-errno);
          cb(Object.assign(new Error(`${code}: punching a hole at ${position}`), { code, errno: -errno }));
        }
      }),
    );
  }

  /** Rare calls (sync, stat, truncate): one generic wrapper. */
  private call<T = void>(
    fn: (fd: number, cb: (err: NodeJS.ErrnoException | null, v?: T) => void) => void,
  ): Promise<T> {
    const fd = this.fd;
    if (fd < 0) return Promise.reject(closedError());
    this.inflight++;
    return new Promise<T>((resolve, reject) => {
      fn(fd, (err, v) => {
        this.done();
        if (err) reject(err);
        else resolve(v as T);
      });
    });
  }

  async close(): Promise<void> {
    const fd = this.fd;
    if (fd < 0) return;
    this.fd = -1;
    if (this.inflight > 0) {
      await new Promise<void>((resolve) => {
        this.onIdle = resolve;
      });
    }
    await closeRaw(fd);
  }
}

export class FsBlockStorage implements BlockStorage {
  constructor(readonly dir: string) {}

  async open(name: string): Promise<BlockFile> {
    await mkdir(this.dir, { recursive: true });
    const path = join(this.dir, name);
    // O_RDWR without O_APPEND: positional writes must land where asked.
    try {
      return new FsBlockFile(await openRaw(path, constants.O_RDWR));
    } catch (err) {
      if ((err as { code?: unknown }).code !== "ENOENT") throw err;
    }
    const fd = await openRaw(path, constants.O_RDWR | constants.O_CREAT, 0o644);
    // A new file's directory entry must be durable before anything relies on the file existing.
    try {
      await this.syncDir();
    } catch (err) {
      await closeRaw(fd).catch(() => undefined);
      throw err;
    }
    return new FsBlockFile(fd);
  }

  private async syncDir(): Promise<void> {
    const fd = await openRaw(this.dir, constants.O_RDONLY);
    try {
      await new Promise<void>((resolve, reject) => {
        fsync(fd, (err) => (err ? reject(err) : resolve()));
      });
    } finally {
      await closeRaw(fd);
    }
  }

  async list(): Promise<string[]> {
    await mkdir(this.dir, { recursive: true });
    return readdir(this.dir);
  }

  async remove(name: string): Promise<void> {
    await rm(join(this.dir, name), { force: true });
  }

  async rename(from: string, to: string): Promise<void> {
    await rename(join(this.dir, from), join(this.dir, to));
    await this.syncDir();
  }
}
