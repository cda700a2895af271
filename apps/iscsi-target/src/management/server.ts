// The management API server: JSON-RPC 2.0 over WebSocket (with pushed events) and HTTP POST, Prometheus
// /metrics, and a streaming read of snapshot data. Every request carries the bearer token.
import { readFile, rm, writeFile } from "node:fs/promises";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import type { Duplex } from "node:stream";
import type { PoolHandle } from "@livesnap/engine";
import {
  createDispatcher,
  type EventName,
  eventVolume,
  isMethodName,
  METRICS_PATH,
  RPC_PATH,
  RpcError,
  WS_CLOSE_UNAUTHORIZED,
  WS_PATH,
} from "@livesnap/protocol";
import type { Logger } from "pino";
import { type WebSocket, WebSocketServer } from "ws";
import type { TargetControl } from "../target-control.js";
import { toRpcError } from "./engine-errors.js";
import { EventHub } from "./event-hub.js";
import { API_URL_FILE } from "./files.js";
import { type CallContext, createHandlers } from "./handlers.js";
import { type CommandKind, createMetrics } from "./metrics.js";
import { SNAPSHOT_DATA_ROUTE, serveSnapshotData } from "./snapshot-data.js";
import { bearerToken, loadOrCreateToken, tokenMatches } from "./token.js";

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
  /**
   * Feeds the SCSI latency histogram (livesnap_scsi_command_duration_seconds): the iSCSI side calls it
   * once per completed command. The engine's counters come from volume.stats() at scrape time.
   */
  observeCommand(volume: string, kind: CommandKind, seconds: number): void;
  close(): Promise<void>;
}

export const DEFAULT_API_PORT = 7260;

const MAX_BODY_BYTES = 1024 * 1024;
/** A WebSocket must authenticate (header or first `auth` call) within this time. */
const AUTH_TIMEOUT_MS = 10_000;
/** Events are dropped for a client that stopped reading, rather than buffered without bound. */
const MAX_BUFFERED_BYTES = 16 * 1024 * 1024;

export async function startManagementServer(options: ManagementServerOptions): Promise<ManagementServer> {
  const { pool, control } = options;
  const logger = options.logger.child({ component: "management" });
  const host = options.host ?? "127.0.0.1";
  const token = await loadOrCreateToken(options.dataDir, logger);
  const metrics = createMetrics(pool, control);
  const hub = new EventHub(pool, control, logger);
  const onLogin = () => metrics.sessionLogin();
  control.events.on("session-login", onLogin);

  const dispatcher = createDispatcher(createHandlers({ pool, control, token, version: options.version }), {
    before(method, ctx: CallContext) {
      if (!ctx.authenticated && method !== "auth") throw new RpcError("unauthorized", "authenticate first");
    },
    mapError: toRpcError,
    onCall(method, outcome, seconds, error) {
      metrics.observeCall(isMethodName(method) ? method : "unknown", outcome, seconds);
      if (error?.kind === "internal") logger.error({ method, err: error.message }, "management call failed");
    },
  });

  const server = createServer((req, res) => {
    handleHttp(req, res).catch((err: unknown) => {
      logger.error({ err, url: req.url }, "management request failed");
      if (res.headersSent) res.destroy(err as Error);
      else sendJson(res, 500, { error: String(err) });
    });
  });

  async function handleHttp(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = new URL(req.url ?? "/", "http://x").pathname;
    if (!tokenMatches(token, bearerToken(req.headers.authorization))) {
      res.setHeader("www-authenticate", 'Bearer realm="livesnap"');
      const error = new RpcError(
        "unauthorized",
        "unauthorized: wrong or missing bearer token",
      ).toErrorObject();
      sendJson(res, 401, { jsonrpc: "2.0", id: null, error });
      return;
    }
    if (path === RPC_PATH) {
      if (req.method !== "POST") return sendJson(res, 405, { error: "use POST" });
      const body = await readBody(req, MAX_BODY_BYTES);
      if (body === undefined)
        return sendJson(res, 413, { error: `request body over ${MAX_BODY_BYTES} bytes` });
      const ctx: CallContext = { transport: "http", authenticated: true, subscription: null };
      const answer = await dispatcher.handleText(body, ctx);
      if (answer === undefined) res.writeHead(204).end();
      else res.writeHead(200, { "content-type": "application/json" }).end(answer);
      return;
    }
    if (path === METRICS_PATH && req.method === "GET") {
      const text = await metrics.text();
      res.writeHead(200, { "content-type": metrics.registry.contentType }).end(text);
      return;
    }
    const data = SNAPSHOT_DATA_ROUTE.exec(path);
    if (data && (req.method === "GET" || req.method === "HEAD")) {
      const [volume, snapshot] = [decodeURIComponent(data[1]!), decodeURIComponent(data[2]!)];
      try {
        await serveSnapshotData(pool, volume, snapshot, req.headers.range, req.method === "HEAD", res);
      } catch (err) {
        if (res.headersSent) throw err;
        const rpcError = toRpcError(err);
        const status = rpcError.kind === "not-found" ? 404 : rpcError.kind === "snapshot-invalid" ? 409 : 500;
        sendJson(res, status, { error: rpcError.toErrorObject() });
      }
      return;
    }
    sendJson(res, 404, { error: `no such endpoint: ${req.method} ${path}` });
  }

  const wss = new WebSocketServer({ noServer: true, maxPayload: MAX_BODY_BYTES });
  server.on("upgrade", (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    const path = new URL(req.url ?? "/", "http://x").pathname;
    if (path !== WS_PATH) {
      socket.end("HTTP/1.1 404 Not Found\r\nConnection: close\r\n\r\n");
      return;
    }
    const presented = bearerToken(req.headers.authorization);
    if (req.headers.authorization !== undefined && !tokenMatches(token, presented)) {
      socket.end(
        'HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Bearer realm="livesnap"\r\nConnection: close\r\n\r\n',
      );
      return;
    }
    wss.handleUpgrade(req, socket, head, (ws) => acceptSocket(ws, presented !== undefined));
  });

  function acceptSocket(ws: WebSocket, authenticated: boolean): void {
    const ctx: CallContext = { transport: "ws", authenticated, subscription: null };
    const authTimer = authenticated
      ? undefined
      : setTimeout(() => ws.close(WS_CLOSE_UNAUTHORIZED, "authentication timeout"), AUTH_TIMEOUT_MS);
    let warnedSlow = false;
    const unsubscribe = hub.subscribe((name: EventName, payload) => {
      const sub = ctx.subscription;
      if (!sub?.events.has(name) || ws.readyState !== ws.OPEN) return;
      if (sub.volumes) {
        const volume = eventVolume(name, payload);
        if (volume !== undefined && !sub.volumes.has(volume)) return;
      }
      if (ws.bufferedAmount > MAX_BUFFERED_BYTES) {
        if (!warnedSlow) logger.warn("a management client is not reading; dropping its events");
        warnedSlow = true;
        return;
      }
      warnedSlow = false;
      ws.send(JSON.stringify({ jsonrpc: "2.0", method: name, params: payload }));
    });
    // Calls run concurrently (a long rollback does not hold up a stats call); answers carry their ids.
    ws.on("message", (data, isBinary) => {
      const text = isBinary ? "" : data.toString();
      dispatcher
        .handleText(text, ctx)
        .then((answer) => {
          if (answer !== undefined && ws.readyState === ws.OPEN) ws.send(answer);
          if (!ctx.authenticated) ws.close(WS_CLOSE_UNAUTHORIZED, "unauthorized");
          else clearTimeout(authTimer);
        })
        .catch((err: unknown) => logger.error({ err }, "management WebSocket call failed"));
    });
    ws.on("close", () => {
      clearTimeout(authTimer);
      unsubscribe();
    });
    ws.on("error", (err) => logger.warn({ err }, "management WebSocket error"));
  }

  const listenAt = `${host}:${options.port ?? DEFAULT_API_PORT}`;
  await new Promise<void>((resolve, reject) => {
    const onError = (err: NodeJS.ErrnoException) => {
      control.events.off("session-login", onLogin);
      const why =
        err.code === "EADDRINUSE" ? "the address is in use (another livesnap daemon?)" : err.message;
      reject(new Error(`management API: cannot listen on ${listenAt}: ${why}`, { cause: err }));
    };
    server.once("error", onError);
    server.listen(options.port ?? DEFAULT_API_PORT, host, () => {
      server.off("error", onError);
      server.on("error", (err) => logger.error({ err }, "management API server error"));
      resolve();
    });
  });
  hub.start();
  const port = (server.address() as AddressInfo).port;
  const url = `http://${host.includes(":") ? `[${host}]` : host}:${port}`;
  if (!isLoopback(host)) {
    logger.warn(
      { host, port },
      `management API listens beyond loopback on ${url}; every call requires the bearer token in ${options.dataDir}/api-token`,
    );
  }
  logger.info({ url }, "management API listening");
  // Lets `livesnap --data-dir D` find a daemon started on an ephemeral port.
  const urlFile = join(options.dataDir, API_URL_FILE);
  await writeFile(urlFile, `${url}\n`, { mode: 0o644 });

  return {
    url,
    token,
    port,
    observeCommand: metrics.observeCommand,
    async close() {
      hub.stop();
      control.events.off("session-login", onLogin);
      for (const client of wss.clients) {
        client.close(1001, "server shutting down");
        // A client that does not answer the close handshake is cut off.
        setTimeout(() => client.terminate(), 1000).unref();
      }
      wss.close();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      // Only if it still names this server (a newer daemon may have replaced it).
      const current = await readFile(urlFile, "utf8").catch(() => "");
      if (current.trim() === url) await rm(urlFile, { force: true });
    },
  };
}

function isLoopback(host: string): boolean {
  return host === "localhost" || host === "::1" || host.startsWith("127.");
}

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { "content-type": "application/json" }).end(JSON.stringify(body));
}

/** The body as text, or undefined when it exceeds `limit` bytes. */
async function readBody(req: IncomingMessage, limit: number): Promise<string | undefined> {
  const parts: Buffer[] = [];
  let size = 0;
  for await (const part of req as AsyncIterable<Buffer>) {
    size += part.length;
    if (size > limit) return undefined;
    parts.push(part);
  }
  return Buffer.concat(parts).toString("utf8");
}
