// JSON-RPC over a WebSocket, with pushes. Takes the WebSocket implementation as a parameter so the
// package has no dependency: pass `ws` in Node, the global WebSocket in browsers and webviews.
import type { RpcTransport } from "./client.js";
import { RpcError } from "./errors.js";
import { WS_PATH } from "./transport-http.js";

/** The subset of the WHATWG WebSocket that both browsers and the `ws` package provide. */
export interface WebSocketLike {
  readonly readyState: number;
  send(data: string): void;
  close(code?: number, reason?: string): void;
  addEventListener(type: "open", listener: () => void): void;
  addEventListener(type: "message", listener: (event: { data: unknown }) => void): void;
  addEventListener(type: "close", listener: (event: { code: number; reason: string }) => void): void;
  addEventListener(type: "error", listener: (event: unknown) => void): void;
}

export type WebSocketFactory = (url: string) => WebSocketLike;

export interface WsTransportOptions {
  /** Base URL of the management API (http://host:port or ws://host:port). */
  url: string;
  token: string;
  /** e.g. (url) => new WebSocket(url) with `ws`'s or the global WebSocket. */
  connect: WebSocketFactory;
}

/** Close code the server uses for a connection that failed authentication. */
export const WS_CLOSE_UNAUTHORIZED = 4401;

/** Opens the socket and authenticates with an `auth` call before resolving. */
export async function wsTransport(options: WsTransportOptions): Promise<RpcTransport> {
  const url = new URL(WS_PATH, options.url);
  url.protocol = url.protocol === "https:" || url.protocol === "wss:" ? "wss:" : "ws:";
  const socket = options.connect(url.toString());
  const pending = new Map<number | string, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  const notificationListeners = new Set<(method: string, params: unknown) => void>();
  let closedError: Error | undefined;
  let authId = -1;

  socket.addEventListener("message", (event) => {
    let message: { id?: number | string | null; method?: string; params?: unknown };
    try {
      message = JSON.parse(String(event.data));
    } catch {
      return;
    }
    if (message.id !== undefined && message.id !== null) {
      const waiter = pending.get(message.id);
      pending.delete(message.id);
      waiter?.resolve(message);
    } else if (typeof message.method === "string") {
      for (const listener of notificationListeners) listener(message.method, message.params);
    }
  });
  socket.addEventListener("close", (event) => {
    closedError =
      event.code === WS_CLOSE_UNAUTHORIZED
        ? new RpcError("unauthorized", `unauthorized: ${event.reason || "wrong or missing token"}`)
        : new Error(`connection closed (${event.code}${event.reason ? `: ${event.reason}` : ""})`);
    for (const waiter of pending.values()) waiter.reject(closedError);
    pending.clear();
  });

  await new Promise<void>((resolve, reject) => {
    socket.addEventListener("open", () => resolve());
    socket.addEventListener("error", () => reject(new Error(`cannot connect to ${url}`)));
    socket.addEventListener("close", () => reject(closedError ?? new Error("connection closed")));
  });

  const transport: RpcTransport = {
    request(message) {
      if (closedError) return Promise.reject(closedError);
      return new Promise((resolve, reject) => {
        pending.set(message.id, { resolve, reject });
        socket.send(JSON.stringify(message));
      });
    },
    onNotification(listener) {
      notificationListeners.add(listener);
      return () => notificationListeners.delete(listener);
    },
    async close() {
      if (closedError) return;
      await new Promise<void>((resolve) => {
        socket.addEventListener("close", () => resolve());
        socket.close(1000, "client closing");
      });
    },
  };
  const answer = (await transport.request({
    jsonrpc: "2.0",
    id: authId--,
    method: "auth",
    params: { token: options.token },
  })) as {
    error?: { message: string };
  };
  if (answer.error) {
    await transport.close();
    throw new RpcError("unauthorized", answer.error.message);
  }
  return transport;
}
