// Records every storage operation of an engine running on real files, in order, with test
// markers (write acknowledged, flush done, ...) interleaved. crashState(k) rebuilds what a disk
// could hold after a power cut just before operation k: synced data is there; writes since the
// file's last sync are each kept or lost (in order), some torn at a 512-byte boundary.
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { type BlockFile, type BlockStorage, FsBlockStorage } from "../src/index.js";

export type StorageOp =
  | { kind: "write"; name: string; pos: number; data: Buffer }
  | { kind: "sync"; name: string }
  | { kind: "truncate"; name: string; size: number }
  | { kind: "create"; name: string }
  | { kind: "rename"; from: string; to: string }
  | { kind: "remove"; name: string }
  | { kind: "mark"; what: string; id: number; seq?: number };

export class RecordingStorage implements BlockStorage {
  readonly ops: StorageOp[] = [];
  /** Runs before a write reaches the file (a test may hold it there); the op is recorded after. */
  beforeWrite: ((name: string, pos: number) => Promise<void> | void) | null = null;
  private readonly inner: FsBlockStorage;
  private readonly known = new Set<string>();

  constructor(dir: string) {
    this.inner = new FsBlockStorage(dir);
  }

  mark(what: string, id: number, seq?: number): void {
    this.ops.push(seq === undefined ? { kind: "mark", what, id } : { kind: "mark", what, id, seq });
  }

  async open(name: string): Promise<BlockFile> {
    const f = await this.inner.open(name);
    if (!this.known.has(name)) {
      this.known.add(name);
      this.ops.push({ kind: "create", name });
    }
    return {
      read: (buf, pos) => f.read(buf, pos),
      write: async (data, pos) => {
        await this.beforeWrite?.(name, pos);
        await f.write(data, pos);
        this.ops.push({ kind: "write", name, pos, data: Buffer.from(data) });
      },
      sync: async () => {
        await f.sync();
        this.ops.push({ kind: "sync", name });
      },
      size: () => f.size(),
      // A punched hole reads as zeros and is durable with the next sync: recorded as a write of
      // zeros, so crash states may lose or tear it like one.
      punchHole: async (pos, length) => {
        const punched = (await f.punchHole?.(pos, length)) ?? false;
        if (punched) this.ops.push({ kind: "write", name, pos, data: Buffer.alloc(length) });
        return punched;
      },
      truncate: async (size) => {
        await f.truncate(size);
        this.ops.push({ kind: "truncate", name, size });
      },
      close: () => f.close(),
    };
  }
  list(): Promise<string[]> {
    return this.inner.list();
  }
  async remove(name: string): Promise<void> {
    await this.inner.remove(name);
    this.known.delete(name);
    this.ops.push({ kind: "remove", name });
  }
  async rename(from: string, to: string): Promise<void> {
    await this.inner.rename(from, to);
    this.known.delete(from);
    this.known.add(to);
    this.ops.push({ kind: "rename", from, to });
  }
}

interface FileImage {
  durable: Buffer;
  pending: { pos: number; data: Buffer }[];
}

function applyWrite(buf: Buffer, pos: number, data: Buffer): Buffer {
  const need = pos + data.length;
  const out = need > buf.length ? Buffer.concat([buf, Buffer.alloc(need - buf.length)]) : buf;
  data.copy(out, pos);
  return out;
}

function resize(buf: Buffer, size: number): Buffer {
  return size <= buf.length
    ? Buffer.from(buf.subarray(0, size))
    : Buffer.concat([buf, Buffer.alloc(size - buf.length)]);
}

/** Writes into `dir` one possible disk content after a crash before ops[k]. */
export async function materializeCrash(
  ops: StorageOp[],
  k: number,
  rand: () => number,
  dir: string,
): Promise<void> {
  const files = new Map<string, FileImage>();
  for (let i = 0; i < k; i++) {
    const op = ops[i] as StorageOp;
    switch (op.kind) {
      case "create":
        if (!files.has(op.name)) files.set(op.name, { durable: Buffer.alloc(0), pending: [] });
        break;
      case "write":
        files.get(op.name)?.pending.push({ pos: op.pos, data: op.data });
        break;
      case "sync": {
        const f = files.get(op.name);
        if (f) {
          for (const w of f.pending) f.durable = applyWrite(f.durable, w.pos, w.data);
          f.pending = [];
        }
        break;
      }
      case "truncate": {
        const f = files.get(op.name);
        if (f) f.durable = resize(f.durable, op.size);
        break;
      }
      case "rename": {
        const f = files.get(op.from);
        if (f) {
          files.delete(op.from);
          files.set(op.to, f);
        }
        break;
      }
      case "remove":
        files.delete(op.name);
        break;
      case "mark":
        break;
    }
  }
  await mkdir(dir, { recursive: true });
  for (const [name, f] of files) {
    let content = f.durable;
    for (const w of f.pending) {
      const r = rand();
      if (r < 0.45) continue; // lost
      if (r < 0.6 && w.data.length > 512) {
        // torn: a prefix made it, at a sector boundary
        const sectors = Math.floor(rand() * (w.data.length / 512));
        content = applyWrite(content, w.pos, w.data.subarray(0, sectors * 512));
        continue;
      }
      content = applyWrite(content, w.pos, w.data);
    }
    await writeFile(join(dir, name), content);
  }
}
