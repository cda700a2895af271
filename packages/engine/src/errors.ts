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

/**
 * A volume size the pool's file system cannot hold in one file (EFBIG: ext4 with 4 KiB blocks
 * stops 4 KiB short of 16 TiB) is a bad argument, not an I/O error; anything else maps as usual.
 */
export function tooLargeOr(err: unknown, sizeBytes: number, what: string): EngineError {
  if (errnoCode(err) !== "EFBIG") return toEngineError(err, what);
  return new EngineError(
    "invalid-argument",
    `${sizeBytes} bytes is larger than the largest file this pool's file system allows; ` +
      "choose a smaller size or put the pool on a file system with larger files (XFS, btrfs)",
    { cause: err },
  );
}
