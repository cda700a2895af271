// JSON-RPC over one WebSocket (the `ws` package, bundled): correlates responses to requests by id and
// hands notifications (server events) to listeners. The typed layer is @livesnap/protocol's client.
// Unlike the protocol's generic wsTransport, this one reports when the socket goes away (for
// reconnecting), times requests out, sends the token as a bearer header, and keeps the OS error
// ("ECONNREFUSED") that the user needs to see.
import { type RpcTransport, WS_CLOSE_UNAUTHORIZED, WS_PATH } from "@livesnap/protocol";
import WebSocket from "ws";

export interface WsTransportOptions {
  url: string;
  token: string;
  /** Per-request timeout; a dead server must not hang a command forever. */
  requestTimeoutMs?: number;
  connectTimeoutMs?: number;
}

type RequestMessage = Parameters<RpcTransport["request"]>[0];

interface Pending {
  resolve: (raw: unknown) => void;
  reject: (err: Error) => void;
  timer: ReturnType<typeof setTimeout>;
}

/** The API serves WebSocket at WS_PATH (/v1/ws): a bare ws://host:port means that path. */
export function normaliseUrl(url: string): string {
  const parsed = new URL(url);
  if (parsed.protocol === "http:") parsed.protocol = "ws:";
  if (parsed.protocol === "https:") parsed.protocol = "wss:";
  if (parsed.protocol !== "ws:" && parsed.protocol !== "wss:") {
    throw new Error(`unsupported URL scheme ${parsed.protocol} (use ws:// or wss://)`);
  }
  if (parsed.pathname === "/" || parsed.pathname === "") parsed.pathname = WS_PATH;
  return parsed.toString();
}

export class WsTransport implements RpcTransport {
  private readonly pending = new Map<string | number, Pending>();
  private readonly listeners = new Set<(method: string, params: unknown) => void>();
  private readonly closeListeners = new Set<(reason: string) => void>();
  private closed = false;

  private constructor(
    private readonly socket: WebSocket,
    private readonly requestTimeoutMs: number,
  ) {
    socket.on("message", (data) => this.onMessage(data.toString()));
    socket.on("close", (code, reason) =>
      this.handleClose(
        code === WS_CLOSE_UNAUTHORIZED
          ? `unauthorized: ${reason.toString() || "wrong or missing token"}`
          : `closed (${code}${reason.length ? `: ${reason}` : ""})`,
      ),
    );
    socket.on("error", (err) => this.handleClose(err.message));
  }

  static connect(options: WsTransportOptions): Promise<WsTransport> {
    const url = normaliseUrl(options.url);
    return new Promise((resolve, reject) => {
      const socket = new WebSocket(url, {
        headers: { Authorization: `Bearer ${options.token}` },
        handshakeTimeout: options.connectTimeoutMs ?? 5000,
        maxPayload: 64 * 1024 * 1024,
      });
      const fail = (err: Error) => {
        socket.removeAllListeners();
        socket.on("error", () => {});
        socket.terminate();
        reject(err);
      };
      socket.once("unexpected-response", (_req, res) => {
        const status = res.statusCode ?? 0;
        fail(
          new Error(status === 401 || status === 403 ? `token rejected (HTTP ${status})` : `HTTP ${status}`),
        );
      });
      socket.once("error", (err) => fail(err));
      socket.once("open", () => {
        socket.removeAllListeners();
        resolve(new WsTransport(socket, options.requestTimeoutMs ?? 30_000));
      });
    });
  }

  request(message: RequestMessage): Promise<unknown> {
    if (this.closed || this.socket.readyState !== WebSocket.OPEN) {
      return Promise.reject(new Error("not connected"));
    }
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(message.id);
        reject(new Error(`${message.method}: no answer within ${this.requestTimeoutMs} ms`));
      }, this.requestTimeoutMs);
      this.pending.set(message.id, { resolve, reject, timer });
      this.socket.send(JSON.stringify(message), (err) => {
        if (!err) return;
        clearTimeout(timer);
        this.pending.delete(message.id);
        reject(err);
      });
    });
  }

  onNotification(listener: (method: string, params: unknown) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Called once when the socket goes away (server stopped, network error, close()). */
  onClose(listener: (reason: string) => void): () => void {
    this.closeListeners.add(listener);
    return () => this.closeListeners.delete(listener);
  }

  private handleClose(reason: string): void {
    if (this.closed) return;
    this.closed = true;
    for (const p of this.pending.values()) {
      clearTimeout(p.timer);
      p.reject(new Error(`connection ${reason}`));
    }
    this.pending.clear();
    for (const l of this.closeListeners) l(reason);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.handleClose("closed by client");
    await new Promise<void>((resolve) => {
      if (this.socket.readyState === WebSocket.CLOSED) return resolve();
      this.socket.once("close", () => resolve());
      this.socket.close(1000);
      setTimeout(() => {
        this.socket.terminate();
        resolve();
      }, 1000).unref();
    });
  }

  private onMessage(text: string): void {
    let message: unknown;
    try {
      message = JSON.parse(text);
    } catch {
      return; // not JSON: nothing to correlate; the client would reject it anyway
    }
    if (typeof message !== "object" || message === null) return;
    const m = message as { id?: unknown; method?: unknown; params?: unknown };
    if (typeof m.method === "string" && m.id === undefined) {
      for (const l of this.listeners) l(m.method, m.params);
      return;
    }
    if (typeof m.id === "string" || typeof m.id === "number") {
      const p = this.pending.get(m.id);
      if (!p) return;
      clearTimeout(p.timer);
      this.pending.delete(m.id);
      p.resolve(message);
    }
  }
}
