// Server side: turns raw JSON-RPC text/objects into validated handler calls and typed errors.
// Handlers are typed from the method table, so a handler cannot accept or return the wrong shape.
import { describeIssues, issuesFrom, RpcError } from "./errors.js";
import { JsonRpcRequest, type JsonRpcResponse, type RequestId } from "./jsonrpc.js";
import { isMethodName, type MethodName, type MethodResult, methods, type ValidParams } from "./methods.js";

export type Handler<M extends MethodName, Ctx> = (
  params: ValidParams<M>,
  ctx: Ctx,
) => MethodResult<M> | Promise<MethodResult<M>>;

export type Handlers<Ctx> = { [M in MethodName]: Handler<M, Ctx> };

export interface DispatcherOptions<Ctx> {
  /** Called before every handler (e.g. authentication); throw an RpcError to refuse. */
  before?: (method: MethodName, ctx: Ctx) => void;
  /** Maps a non-RpcError thrown by a handler (e.g. an engine error); default: "internal". */
  mapError?: (err: unknown) => RpcError;
  /** Observes every finished call (metrics, logs). */
  onCall?: (method: string, outcome: "ok" | "error", seconds: number, error?: RpcError) => void;
}

export interface Dispatcher<Ctx> {
  /** Answers one JSON text (a request or a batch); undefined when nothing is to be sent back. */
  handleText(text: string, ctx: Ctx): Promise<string | undefined>;
  /** Answers one parsed message (a request or a batch). */
  handleMessage(message: unknown, ctx: Ctx): Promise<JsonRpcResponse | JsonRpcResponse[] | undefined>;
}

export function createDispatcher<Ctx>(
  handlers: Handlers<Ctx>,
  options: DispatcherOptions<Ctx> = {},
): Dispatcher<Ctx> {
  const mapError = options.mapError ?? ((err: unknown) => new RpcError("internal", errorMessage(err)));

  async function handleOne(message: unknown, ctx: Ctx): Promise<JsonRpcResponse | undefined> {
    const envelope = JsonRpcRequest.safeParse(message);
    if (!envelope.success) {
      const issues = issuesFrom(envelope.error, "");
      const id = idOf(message);
      return failure(
        id,
        new RpcError("invalid-request", `invalid JSON-RPC request: ${describeIssues(issues)}`, issues),
      );
    }
    const { id, method } = envelope.data;
    const started = performance.now();
    try {
      const result = await call(method, envelope.data.params, ctx);
      options.onCall?.(method, "ok", (performance.now() - started) / 1000);
      return id === undefined ? undefined : { jsonrpc: "2.0", id, result };
    } catch (err) {
      const rpcError = err instanceof RpcError ? err : mapError(err);
      options.onCall?.(method, "error", (performance.now() - started) / 1000, rpcError);
      return id === undefined ? undefined : failure(id, rpcError);
    }
  }

  async function call(method: string, rawParams: unknown, ctx: Ctx): Promise<unknown> {
    if (!isMethodName(method)) throw new RpcError("method-not-found", `unknown method "${method}"`);
    options.before?.(method, ctx);
    const spec = methods[method];
    const parsed = spec.params.safeParse(rawParams ?? {});
    if (!parsed.success) {
      const issues = issuesFrom(parsed.error, "params");
      throw new RpcError("invalid-params", `${method}: ${describeIssues(issues)}`, issues);
    }
    const handler = handlers[method] as Handler<MethodName, Ctx>;
    const result = await handler(parsed.data as ValidParams<MethodName>, ctx);
    // The result schema is the contract too: a server bug shows up here, not in every client.
    const checked = spec.result.safeParse(result);
    if (!checked.success) {
      throw new RpcError(
        "internal",
        `${method}: server produced an invalid result: ${checked.error.message}`,
      );
    }
    return checked.data;
  }

  async function handleMessage(message: unknown, ctx: Ctx) {
    if (Array.isArray(message)) {
      if (message.length === 0) return failure(null, new RpcError("invalid-request", "empty batch"));
      const answers = await Promise.all(message.map((m) => handleOne(m, ctx)));
      const sent = answers.filter((a): a is JsonRpcResponse => a !== undefined);
      return sent.length > 0 ? sent : undefined;
    }
    return handleOne(message, ctx);
  }

  return {
    handleMessage,
    async handleText(text, ctx) {
      let message: unknown;
      try {
        message = JSON.parse(text);
      } catch (err) {
        return JSON.stringify(
          failure(null, new RpcError("parse-error", `invalid JSON: ${errorMessage(err)}`)),
        );
      }
      const answer = await handleMessage(message, ctx);
      return answer === undefined ? undefined : JSON.stringify(answer);
    },
  };
}

function failure(id: RequestId | null, error: RpcError): JsonRpcResponse {
  return { jsonrpc: "2.0", id, error: error.toErrorObject() };
}

function idOf(message: unknown): RequestId | null {
  if (typeof message === "object" && message !== null && "id" in message) {
    const id = (message as { id: unknown }).id;
    if (typeof id === "string" || (typeof id === "number" && Number.isInteger(id))) return id;
  }
  return null;
}

function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
