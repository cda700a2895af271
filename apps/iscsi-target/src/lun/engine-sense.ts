// EngineError → SCSI sense. The engine reports failures with a small set of codes; initiators need
// the sense that makes them do the right thing (retry, fail the I/O, stop writing).
import type { EngineErrorCode } from "@livesnap/engine";
import { Asc, SenseError, type SenseInfo, SenseKey } from "@livesnap/iscsi";

const ENGINE_CODES: ReadonlySet<string> = new Set<EngineErrorCode>([
  "not-found",
  "already-exists",
  "invalid-argument",
  "out-of-range",
  "no-space",
  "io-error",
  "snapshot-invalid",
  "busy",
  "closed",
]);

/** The EngineErrorCode of `err`, recognised by shape so no engine runtime import is needed. */
export function engineErrorCode(err: unknown): EngineErrorCode | undefined {
  if (!(err instanceof Error) || !("code" in err)) return undefined;
  const code = (err as Error & { code: unknown }).code;
  return typeof code === "string" && ENGINE_CODES.has(code) ? (code as EngineErrorCode) : undefined;
}

export type IoDirection = "read" | "write";

export function senseForEngineCode(code: EngineErrorCode, direction: IoDirection): SenseInfo {
  switch (code) {
    case "out-of-range":
      return { key: SenseKey.illegalRequest, asc: Asc.lbaOutOfRange };
    case "no-space":
      // Thin pool exhausted: the LU becomes write protected until space is freed (SBC-3 4.7.3.6).
      return { key: SenseKey.dataProtect, asc: Asc.spaceAllocationFailedWriteProtect };
    case "io-error":
      return direction === "read"
        ? { key: SenseKey.mediumError, asc: Asc.unrecoveredReadError }
        : { key: SenseKey.mediumError, asc: Asc.writeError };
    case "snapshot-invalid":
      // The snapshot lost data (COW store overflow): unusable until an operator deletes it.
      return { key: SenseKey.notReady, asc: Asc.notReadyManualIntervention };
    case "busy":
      // e.g. a rollback in progress: initiators retry NOT READY / OPERATION IN PROGRESS.
      return { key: SenseKey.notReady, asc: Asc.notReadyOperationInProgress };
    case "closed":
      return { key: SenseKey.notReady, asc: Asc.notReadyCauseNotReportable };
    case "not-found":
      return { key: SenseKey.illegalRequest, asc: Asc.logicalUnitNotSupported };
    case "invalid-argument":
    case "already-exists":
      return { key: SenseKey.illegalRequest, asc: Asc.invalidFieldInCdb };
  }
}

/** Rethrows an engine failure as the SenseError the SCSI side renders; other errors pass through. */
export function toSenseError(err: unknown, direction: IoDirection): unknown {
  if (err instanceof SenseError) return err;
  const code = engineErrorCode(err);
  if (code === undefined) return err;
  return new SenseError(senseForEngineCode(code, direction), err instanceof Error ? err.message : undefined);
}

const readFailure = (err: unknown): never => {
  throw toSenseError(err, "read");
};
const writeFailure = (err: unknown): never => {
  throw toSenseError(err, "write");
};

/**
 * Translates the failure of an engine promise. A plain `.catch` with a shared handler: no async
 * frame and no closure per I/O on the data path.
 */
export function engineResult<T>(direction: IoDirection, result: Promise<T>): Promise<T> {
  return result.catch(direction === "read" ? readFailure : writeFailure);
}

/** Runs an engine call, translating its failure (also a synchronous throw). */
export function engineCall<T>(direction: IoDirection, fn: () => Promise<T>): Promise<T> {
  let result: Promise<T>;
  try {
    result = fn();
  } catch (err) {
    return Promise.reject(toSenseError(err, direction));
  }
  return engineResult(direction, result);
}

export function engineCallSync<T>(direction: IoDirection, fn: () => T): T {
  try {
    return fn();
  } catch (err) {
    throw toSenseError(err, direction);
  }
}
