// Client side: a typed call() and on() derived from the method and event tables, over any transport.
import { describeIssues, issuesFrom, RpcError } from "./errors.js";
import { type EventName, type EventPayload, events, isEventName } from "./events.js";
import { JsonRpcFailure, JsonRpcSuccess, type RequestId } from "./jsonrpc.js";
import { type MethodName, type MethodParams, type MethodResult, methods } from "./methods.js";

/** Moves JSON-RPC messages; knows nothing about methods. */
export interface RpcTransport {
  /** Sends one request and resolves with the raw (unvalidated) response object. */
  request(message: { jsonrpc: "2.0"; id: RequestId; method: string; params: unknown }): Promise<unknown>;
  /** Server pushes (WebSocket only); returns an unsubscribe function. */
  onNotification?(listener: (method: string, params: unknown) => void): () => void;
  close(): Promise<void>;
}

export type EventListener<E extends EventName> = (payload: EventPayload<E>) => void;

export interface RpcClient {
  call<M extends MethodName>(method: M, params: MethodParams<M>): Promise<MethodResult<M>>;
  /** Listens to a pushed event (also needs an `events.subscribe` call on the server). */
  on<E extends EventName>(event: E, listener: EventListener<E>): () => void;
  close(): Promise<void>;
}

export interface ClientOptions {
  /** Called for pushes that fail validation (a newer server); default: ignore. */
  onInvalidEvent?: (event: string, error: Error) => void;
}

export function createClient(transport: RpcTransport, options: ClientOptions = {}): RpcClient {
  let nextId = 1;
  const listeners = new Map<EventName, Set<(payload: unknown) => void>>();

  transport.onNotification?.((method, params) => {
    if (!isEventName(method)) return;
    const parsed = events[method].safeParse(params);
    if (!parsed.success) {
      options.onInvalidEvent?.(method, new Error(describeIssues(issuesFrom(parsed.error, "params"))));
      return;
    }
    for (const listener of listeners.get(method) ?? []) listener(parsed.data);
  });

  return {
    async call(method, params) {
      const spec = methods[method];
      // Validate before sending: the caller gets the same field-named error without a round trip.
      const checked = spec.params.safeParse(params);
      if (!checked.success) {
        const issues = issuesFrom(checked.error, "params");
        throw new RpcError("invalid-params", `${method}: ${describeIssues(issues)}`, issues);
      }
      const raw = await transport.request({ jsonrpc: "2.0", id: nextId++, method, params });
      const failure = JsonRpcFailure.safeParse(raw);
      if (failure.success) throw RpcError.fromErrorObject(failure.data.error);
      const success = JsonRpcSuccess.safeParse(raw);
      if (!success.success) throw new RpcError("internal", `${method}: malformed response from server`);
      const result = spec.result.safeParse(success.data.result);
      if (!result.success) {
        const issues = issuesFrom(result.error, "result");
        throw new RpcError("internal", `${method}: unexpected result: ${describeIssues(issues)}`, issues);
      }
      return result.data as MethodResult<typeof method>;
    },
    on(event, listener) {
      let set = listeners.get(event);
      if (!set) {
        set = new Set();
        listeners.set(event, set);
      }
      const wrapped = listener as (payload: unknown) => void;
      set.add(wrapped);
      return () => set.delete(wrapped);
    },
    close: () => transport.close(),
  };
}
