// A real management server on a real engine pool in a temp dir (the iSCSI side is the
// TargetControl double), shared by the server and CLI tests.
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { openPool, type PoolHandle } from "@livesnap/engine";
import pino from "pino";
import { type ManagementServer, startManagementServer } from "../../src/management/server.js";
import { TargetControlDouble } from "./target-control-double.js";

export interface ManagementFixture {
  dir: string;
  pool: PoolHandle;
  control: TargetControlDouble;
  server: ManagementServer;
  close(): Promise<void>;
}

export async function startManagementFixture(opts: {
  prefix: string;
  chunkSize: number;
  version: string;
}): Promise<ManagementFixture> {
  const dir = await mkdtemp(join(tmpdir(), opts.prefix));
  const pool = await openPool({ dir: join(dir, "pool"), chunkSize: opts.chunkSize });
  const control = new TargetControlDouble(pool);
  const server = await startManagementServer({
    pool,
    control,
    dataDir: dir,
    port: 0,
    logger: pino({ level: process.env.LIVESNAP_TEST_LOG ?? "silent" }),
    version: opts.version,
  });
  return {
    dir,
    pool,
    control,
    server,
    async close() {
      await server.close();
      await pool.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}
