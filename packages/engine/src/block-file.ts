// Every byte the engine persists goes through these two interfaces, so crash tests can record the
// exact sequence of writes and syncs and replay crash states onto real files.
import { constants } from "node:fs";
import { type FileHandle, mkdir, open, readdir, rename, rm } from "node:fs/promises";
import { join } from "node:path";

export interface BlockFile {
  /** Reads up to buf.length bytes at position; returns bytes read (short only at end of file). */
  read(buf: Uint8Array, position: number): Promise<number>;
  write(data: Uint8Array, position: number): Promise<void>;
  /** Makes every completed write durable (fdatasync). */
  sync(): Promise<void>;
  size(): Promise<number>;
  truncate(size: number): Promise<void>;
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

class FsBlockFile implements BlockFile {
  constructor(private readonly handle: FileHandle) {}

  async read(buf: Uint8Array, position: number): Promise<number> {
    let done = 0;
    while (done < buf.length) {
      const { bytesRead } = await this.handle.read(buf, done, buf.length - done, position + done);
      if (bytesRead === 0) break;
      done += bytesRead;
    }
    return done;
  }

  async write(data: Uint8Array, position: number): Promise<void> {
    let done = 0;
    while (done < data.length) {
      const { bytesWritten } = await this.handle.write(data, done, data.length - done, position + done);
      done += bytesWritten;
    }
  }

  sync(): Promise<void> {
    return this.handle.datasync();
  }

  async size(): Promise<number> {
    return (await this.handle.stat()).size;
  }

  truncate(size: number): Promise<void> {
    return this.handle.truncate(size);
  }

  close(): Promise<void> {
    return this.handle.close();
  }
}

export class FsBlockStorage implements BlockStorage {
  constructor(readonly dir: string) {}

  async open(name: string): Promise<BlockFile> {
    await mkdir(this.dir, { recursive: true });
    const path = join(this.dir, name);
    // O_RDWR without O_APPEND: positional writes must land where asked.
    try {
      return new FsBlockFile(await open(path, constants.O_RDWR));
    } catch (err) {
      if ((err as { code?: unknown }).code !== "ENOENT") throw err;
    }
    const handle = await open(path, constants.O_RDWR | constants.O_CREAT, 0o644);
    // A new file's directory entry must be durable before anything relies on the file existing.
    await this.syncDir();
    return new FsBlockFile(handle);
  }

  private async syncDir(): Promise<void> {
    const dirHandle = await open(this.dir, constants.O_RDONLY);
    try {
      await dirHandle.sync();
    } finally {
      await dirHandle.close();
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
