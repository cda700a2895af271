// JSON-RPC 2.0 envelopes.
import { z } from "zod";
import { ErrorObject } from "./errors.js";

export const RequestId = z.union([z.string(), z.number().int()]);
export type RequestId = z.infer<typeof RequestId>;

export const JsonRpcRequest = z.object({
  jsonrpc: z.literal("2.0"),
  /** Absent for notifications (client → server notifications are accepted and get no answer). */
  id: RequestId.optional(),
  method: z.string().min(1),
  params: z.unknown().optional(),
});
export type JsonRpcRequest = z.infer<typeof JsonRpcRequest>;

export const JsonRpcSuccess = z.object({ jsonrpc: z.literal("2.0"), id: RequestId, result: z.unknown() });
export const JsonRpcFailure = z.object({
  jsonrpc: z.literal("2.0"),
  id: RequestId.nullable(),
  error: ErrorObject,
});
export const JsonRpcResponse = z.union([JsonRpcSuccess, JsonRpcFailure]);
export type JsonRpcSuccess = z.infer<typeof JsonRpcSuccess>;
export type JsonRpcFailure = z.infer<typeof JsonRpcFailure>;
export type JsonRpcResponse = JsonRpcSuccess | JsonRpcFailure;

/** Server → client push (an event). */
export const JsonRpcNotification = z.object({
  jsonrpc: z.literal("2.0"),
  method: z.string(),
  params: z.unknown(),
});
export type JsonRpcNotification = z.infer<typeof JsonRpcNotification>;
