import type { EngineErrorCode } from "./api.js";

export class EngineError extends Error {
  readonly code: EngineErrorCode;
  constructor(code: EngineErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "EngineError";
    this.code = code;
  }
}

/** Node error code of a failed fs call (EIO, ENOSPC, ...), if any. */
export function errnoCode(err: unknown): string | undefined {
  if (typeof err === "object" && err !== null && "code" in err) {
    const code = (err as { code: unknown }).code;
    if (typeof code === "string") return code;
  }
  return undefined;
}

/** Maps a storage failure to the contract's error codes; EngineErrors pass through. */
export function toEngineError(err: unknown, what: string): EngineError {
  if (err instanceof EngineError) return err;
  const code = errnoCode(err);
  if (code === "ENOSPC" || code === "EDQUOT")
    return new EngineError("no-space", `${what}: no space`, { cause: err });
  const detail = err instanceof Error ? err.message : String(err);
  return new EngineError("io-error", `${what}: ${detail}`, { cause: err });
}
