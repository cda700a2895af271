// The livesnap daemon: engine pool + iSCSI portals + management API in one process.
// `livesnap serve` (src/cli*) calls startDaemon; tests spawn it on ephemeral ports.
import type { Logger } from "pino";

export interface DaemonOptions {
  /** Holds the pool (`<dataDir>/pool`), the API token and the default config. Created if missing. */
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
  /** Drain in-flight commands, log out sessions, flush and close the pool. Idempotent. */
  stop(): Promise<void>;
}

export async function startDaemon(options: DaemonOptions): Promise<Daemon> {
  void options;
  throw new Error("daemon: not implemented yet");
}
