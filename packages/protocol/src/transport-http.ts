// One-shot JSON-RPC over HTTP POST /v1/rpc (CLI, scripts). No pushes.
import type { RpcTransport } from "./client.js";
import { RpcError } from "./errors.js";

export const RPC_PATH = "/v1/rpc";
export const WS_PATH = "/v1/ws";
export const METRICS_PATH = "/metrics";

/** Streaming read of a snapshot's bytes (HTTP GET, Range supported, token-checked). */
export function snapshotDataPath(volume: string, snapshot: string): string {
  return `/v1/volumes/${encodeURIComponent(volume)}/snapshots/${encodeURIComponent(snapshot)}/data`;
}

export interface HttpTransportOptions {
  /** Base URL of the management API, e.g. http://127.0.0.1:7260 */
  url: string;
  token: string;
  /** Defaults to the global fetch. */
  fetch?: typeof fetch;
}

export function httpTransport(options: HttpTransportOptions): RpcTransport {
  const doFetch = options.fetch ?? fetch;
  const endpoint = new URL(RPC_PATH, options.url).toString();
  return {
    async request(message) {
      let response: Response;
      try {
        response = await doFetch(endpoint, {
          method: "POST",
          headers: { "content-type": "application/json", authorization: `Bearer ${options.token}` },
          body: JSON.stringify(message),
        });
      } catch (err) {
        const cause = (err as { cause?: { message?: string } }).cause?.message;
        throw new Error(`cannot reach ${options.url}: ${cause ?? (err as Error).message}`);
      }
      const text = await response.text();
      try {
        return JSON.parse(text);
      } catch {
        if (response.status === 401)
          throw new RpcError("unauthorized", "unauthorized: wrong or missing token");
        throw new Error(`${endpoint}: HTTP ${response.status}: ${text.slice(0, 200)}`);
      }
    },
    async close() {},
  };
}
