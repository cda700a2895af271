// The livesnap daemon: engine pool + iSCSI portals + management API in one process.
// `livesnap serve` (src/cli*) calls startDaemon; tests spawn it on ephemeral ports.
// Start order: pool (recovered) -> LUNs -> portals -> API. Stop order is the reverse, so no
// initiator I/O can reach a closed pool and every acknowledged write is flushed.
import { mkdir } from "node:fs/promises";
import { join } from "node:path";
import { holePunchingAvailable, openPool, type PoolHandle } from "@livesnap/engine";
import type { Logger } from "pino";
import { loadConfig } from "./config/load.js";
import type { DaemonConfig } from "./config/schema.js";
import { IscsiServer } from "./iscsi/server.js";
import { TargetRegistry } from "./iscsi/targets.js";
import { createLogger } from "./logger.js";
import { type ManagementServer, startManagementServer } from "./management/server.js";
import type { SessionInfo } from "./target-control.js";

export interface DaemonOptions {
  /** Holds the pool (`<dataDir>/pool`), the API token and the LUN state. Created if missing. */
  dataDir: string;
  /** JSON config file (targets, portals, LUNs, CHAP, allowed initiators); default = embedded default. */
  configFile?: string;
  /** Override the config's portals, e.g. [{ host: "127.0.0.1", port: 0 }] for tests. */
  portals?: { host: string; port: number }[];
  /** Management API listen address; default 127.0.0.1:7260, port 0 = ephemeral. */
  apiListen?: { host: string; port: number };
  /** pino logger; default: pino to stderr at "info". */
  logger?: Logger;
}

export interface Daemon {
  /** Portals actually bound (ephemeral ports resolved). */
  readonly portals: { host: string; port: number }[];
  /** Management API URL (http://host:port) and bearer token. */
  readonly apiUrl: string;
  readonly apiToken: string;
  /** The targets served (IQNs), for logs and tests. */
  readonly targets: string[];
  /** Drain in-flight commands, log out sessions, flush and close the pool. Idempotent. */
  stop(): Promise<void>;
}

export const DAEMON_VERSION = "0.1.0";

export async function startDaemon(options: DaemonOptions): Promise<Daemon> {
  const logger = options.logger ?? createLogger();
  const config: DaemonConfig = await loadConfig(options.configFile);
  await mkdir(options.dataDir, { recursive: true });

  const pool: PoolHandle = await openPool({ dir: join(options.dataDir, "pool"), logger });
  let server: IscsiServer | undefined;
  let api: ManagementServer | undefined;
  try {
    if (pool.listVolumes().length === 0 && config.defaultVolume) {
      const v = config.defaultVolume;
      await pool.createVolume(v.name, { sizeBytes: v.sizeBytes, blockSize: v.blockSize });
      logger.info({ volume: v.name, sizeBytes: v.sizeBytes }, "created the default volume");
    }

    const iscsi = config.iscsi;
    let registry: TargetRegistry | undefined;
    let metricsSink: ManagementServer | undefined;
    server = new IscsiServer({
      targets: () => registry?.servedTargets() ?? [],
      limits: {
        maxRecvDataSegmentLength: iscsi.maxRecvDataSegmentLength,
        maxBurstLength: iscsi.maxBurstLength,
        firstBurstLength: iscsi.firstBurstLength,
        maxOutstandingR2T: iscsi.maxOutstandingR2T,
      },
      keepalive: { intervalMs: iscsi.keepaliveIntervalMs, timeoutMs: iscsi.keepaliveTimeoutMs },
      queueDepth: iscsi.queueDepth,
      ...(config.discoveryChap ? { discoveryChap: config.discoveryChap } : {}),
      // Two map lookups and a histogram observe per command: no per-I/O bookkeeping beyond that.
      onCommandDone: (target, lun, kind, seconds) => {
        const volume = registry?.volumeOf(target, lun);
        if (volume !== undefined) metricsSink?.observeCommand(volume, kind, seconds);
      },
      logger,
    });
    const iscsiServer = server;
    const sessions = (): SessionInfo[] =>
      iscsiServer
        .listSessions()
        .filter((s) => s.sessionType === "Normal")
        .map((s) => ({
          id: s.tsih,
          target: s.target ?? "",
          initiator: s.initiator,
          isid: s.isid,
          remoteAddress: s.remoteAddress,
          connections: 1,
          loggedInAt: s.loggedInAt.toISOString(),
          headerDigest: s.headerDigest,
          dataDigest: s.dataDigest,
        }));
    registry = new TargetRegistry({
      pool,
      config,
      dataDir: options.dataDir,
      logger,
      portals: () => iscsiServer.portals,
      sessions,
      abortTasks: (target, lun, keys) => iscsiServer.abortNexusTasks(target, lun, keys),
    });
    registry.init();
    const control = registry;

    server.events.on("login", (s) => {
      if (s.sessionType !== "Normal") return;
      const info = sessions().find((x) => x.id === s.tsih);
      if (info) control.events.emit("session-login", info);
    });
    server.events.on("logout", (s) => {
      if (s.sessionType !== "Normal") return;
      control.events.emit("session-logout", {
        id: s.tsih,
        target: s.target ?? "",
        initiator: s.initiator,
        reason: s.reason,
      });
    });
    // Changes that bypass the API (or arrive before it answers) keep the LUN map right; all idempotent.
    pool.events.on("volume-created", ({ volume }) => void control.volumeChanged(volume.name).catch(() => {}));
    pool.events.on("volume-resized", ({ volume }) => void control.volumeChanged(volume.name).catch(() => {}));
    pool.events.on("volume-deleted", ({ volume }) => void control.volumeChanged(volume).catch(() => {}));
    pool.events.on("snapshot-deleted", ({ volume, snapshot }) => control.snapshotDeleted(volume, snapshot));

    const portals = await server.listen(options.portals ?? config.portals);
    const apiAt = options.apiListen ?? config.api;
    api = await startManagementServer({
      pool,
      control,
      dataDir: options.dataDir,
      host: apiAt.host,
      port: apiAt.port,
      logger,
      version: DAEMON_VERSION,
    });
    metricsSink = api;
    logger.info(
      {
        portals,
        api: api.url,
        targets: config.targets.map((t) => t.iqn),
        // Without the engine's native binary, UNMAP zero-fills instead of freeing blocks.
        holePunching: holePunchingAvailable(),
      },
      "livesnap daemon started",
    );

    let stopping: Promise<void> | undefined;
    const apiServer = api;
    return {
      portals,
      apiUrl: api.url,
      apiToken: api.token,
      targets: config.targets.map((t) => t.iqn),
      stop() {
        stopping ??= (async () => {
          logger.info("livesnap daemon stopping");
          await apiServer.close().catch((err: unknown) => logger.error({ err }, "API close failed"));
          await iscsiServer.close(10_000);
          await pool.close();
          logger.info("livesnap daemon stopped");
        })();
        return stopping;
      },
    };
  } catch (e) {
    await api?.close().catch(() => {});
    await server?.close(0).catch(() => {});
    await pool.close().catch(() => {});
    throw e;
  }
}
