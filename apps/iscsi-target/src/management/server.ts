// The management API server: JSON-RPC 2.0 over WebSocket and HTTP POST, Prometheus /metrics, and a
// token-checked streaming read of snapshot data. Called by the daemon (src/daemon.ts).
import type { PoolHandle } from "@livesnap/engine";
import type { Logger } from "pino";
import type { TargetControl } from "../target-control.js";

export interface ManagementServerOptions {
  pool: PoolHandle;
  control: TargetControl;
  /** Holds the bearer token file `api-token` (created mode 0600 at first start). */
  dataDir: string;
  /** Default 127.0.0.1. Anything beyond loopback is logged as a warning at start. */
  host?: string;
  /** Default 7260; 0 = ephemeral. */
  port?: number;
  logger: Logger;
  /** Daemon version, reported by `hello`. */
  version: string;
}

export interface ManagementServer {
  /** http://host:port — WebSocket at ws://host:port/v1/ws, HTTP JSON-RPC at POST /v1/rpc. */
  url: string;
  token: string;
  port: number;
  close(): Promise<void>;
}

export async function startManagementServer(options: ManagementServerOptions): Promise<ManagementServer> {
  void options;
  throw new Error("management server: not implemented yet");
}
