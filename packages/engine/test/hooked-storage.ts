// A real file-system storage with hooks in front of every write/read/sync: delays to widen race
// windows, injected errors (EIO, ENOSPC, EFBIG) for fault tests.
import { type BlockFile, type BlockStorage, FsBlockStorage } from "../src/index.js";

export interface StorageHooks {
  write?(name: string, position: number, length: number): Promise<void> | void;
  read?(name: string, position: number, length: number): Promise<void> | void;
  sync?(name: string): Promise<void> | void;
  truncate?(name: string, size: number): Promise<void> | void;
}

export function errno(code: string): Error {
  return Object.assign(new Error(`injected ${code}`), { code });
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export class HookedStorage implements BlockStorage {
  private readonly inner: FsBlockStorage;
  constructor(
    dir: string,
    public hooks: StorageHooks,
  ) {
    this.inner = new FsBlockStorage(dir);
  }

  async open(name: string): Promise<BlockFile> {
    const f = await this.inner.open(name);
    return {
      read: async (buf, pos) => {
        await this.hooks.read?.(name, pos, buf.length);
        return f.read(buf, pos);
      },
      write: async (data, pos) => {
        await this.hooks.write?.(name, pos, data.length);
        return f.write(data, pos);
      },
      sync: async () => {
        await this.hooks.sync?.(name);
        return f.sync();
      },
      size: () => f.size(),
      // A hole punch changes content like a write of zeros: the write hooks see it.
      punchHole: async (pos, length) => {
        await this.hooks.write?.(name, pos, length);
        return (await f.punchHole?.(pos, length)) ?? false;
      },
      truncate: async (n) => {
        await this.hooks.truncate?.(name, n);
        return f.truncate(n);
      },
      close: () => f.close(),
    };
  }
  list(): Promise<string[]> {
    return this.inner.list();
  }
  remove(name: string): Promise<void> {
    return this.inner.remove(name);
  }
  rename(from: string, to: string): Promise<void> {
    return this.inner.rename(from, to);
  }
}
