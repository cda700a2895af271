// Engine errors become typed protocol errors. Matched by their `code`, so this file needs only the
// engine's types (EngineErrorCode), not its runtime.
import type { EngineErrorCode } from "@livesnap/engine";
import { RpcError } from "@livesnap/protocol";

const ENGINE_CODES: Record<EngineErrorCode, true> = {
  "not-found": true,
  "already-exists": true,
  "invalid-argument": true,
  "out-of-range": true,
  "no-space": true,
  "io-error": true,
  "snapshot-invalid": true,
  busy: true,
  closed: true,
};

export function toRpcError(err: unknown): RpcError {
  if (err instanceof RpcError) return err;
  const code = (err as { code?: unknown } | null)?.code;
  const message = err instanceof Error ? err.message : String(err);
  if (typeof code === "string" && Object.hasOwn(ENGINE_CODES, code)) {
    return new RpcError(code as EngineErrorCode, message);
  }
  return new RpcError("internal", message);
}
