// Start an IscsiServer on an ephemeral loopback port with RAM LUNs (transport tests).
import { createScsiTargetPort } from "@livesnap/iscsi";
import pino from "pino";
import { IscsiServer, type IscsiServerOptions, type ServedTarget } from "../../src/iscsi/server.js";
import { memoryBackend } from "./memory-backend.js";

export const TEST_IQN = "iqn.2026-11.io.livesnap:test";

export interface TestTarget {
  server: IscsiServer;
  port: number;
  url: (lun?: number) => string;
  targets: ServedTarget[];
  backends: ReturnType<typeof memoryBackend>[];
  close(): Promise<void>;
}

export async function startTestTarget(
  opts: {
    sizeBytes?: number;
    luns?: number;
    target?: Partial<ServedTarget>;
  } & Partial<IscsiServerOptions> = {},
): Promise<TestTarget> {
  // PREEMPT AND ABORT reaches the sessions the way the daemon wires it.
  let server: IscsiServer | undefined;
  const port = createScsiTargetPort({
    abortTasks: (lun, keys) => server?.abortNexusTasks(TEST_IQN, lun, keys),
  });
  const backends: ReturnType<typeof memoryBackend>[] = [];
  for (let lun = 0; lun < (opts.luns ?? 1); lun++) {
    const b = memoryBackend(
      opts.sizeBytes ?? 64 * 1024 * 1024,
      `00000000-0000-4000-8000-00000000000${lun + 1}`,
    );
    backends.push(b);
    port.addLun(lun, b);
  }
  const targets: ServedTarget[] = [{ name: TEST_IQN, port, ...opts.target }];
  server = new IscsiServer({
    targets: () => targets,
    logger: pino({ level: process.env.LIVESNAP_TEST_LOG ?? "silent" }),
    ...opts,
  });
  const [bound] = await server.listen([{ host: "127.0.0.1", port: 0 }]);
  const p = bound?.port ?? 0;
  return {
    server,
    port: p,
    url: (lun = 0) => `iscsi://127.0.0.1:${p}/${TEST_IQN}/${lun}`,
    targets,
    backends,
    close: () => server.close(1000),
  };
}
