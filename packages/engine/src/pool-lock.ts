// One process per pool directory: a second opener (a CLI next to the daemon) would interleave
// its log records with ours and corrupt the pool. The lock file holds the owner's pid; a lock
// left by a dead process (crash, SIGKILL) is taken over.
import { open, readFile, rm } from "node:fs/promises";
import { join } from "node:path";
import { EngineError } from "./errors.js";

const LOCK_NAME = "pool.lock";

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    // EPERM: the process exists but belongs to someone else.
    return (err as { code?: string }).code === "EPERM";
  }
}

export class PoolLock {
  private constructor(private readonly path: string) {}

  static async acquire(dir: string): Promise<PoolLock> {
    const path = join(dir, LOCK_NAME);
    for (let attempt = 0; attempt < 3; attempt++) {
      try {
        const handle = await open(path, "wx");
        await handle.writeFile(`${process.pid}\n`);
        await handle.close();
        return new PoolLock(path);
      } catch (err) {
        if ((err as { code?: string }).code !== "EEXIST") throw err;
      }
      const owner = Number.parseInt(await readFile(path, "utf8").catch(() => ""), 10);
      if (Number.isInteger(owner) && owner > 0 && owner !== process.pid && alive(owner)) {
        throw new EngineError("busy", `pool ${dir} is in use by process ${owner}`);
      }
      if (owner === process.pid) throw new EngineError("busy", `pool ${dir} is already open in this process`);
      await rm(path, { force: true }); // stale: its owner is gone
    }
    throw new EngineError("busy", `could not lock pool ${dir}`);
  }

  release(): Promise<void> {
    return rm(this.path, { force: true });
  }
}
