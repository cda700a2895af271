// Typed errors: every JSON-RPC error carries `data.kind` (what went wrong, machine-readable) and, for
// bad input, the zod issues with their paths so the caller sees which field was wrong.
import { z } from "zod";

export const ErrorKind = z.enum([
  // JSON-RPC envelope and dispatch
  "parse-error",
  "invalid-request",
  "method-not-found",
  "invalid-params",
  "internal",
  // session
  "unauthorized",
  "version-mismatch",
  // engine (EngineErrorCode)
  "not-found",
  "already-exists",
  "invalid-argument",
  "out-of-range",
  "no-space",
  "io-error",
  "snapshot-invalid",
  "busy",
  "closed",
  // iSCSI side
  "not-supported",
]);
export type ErrorKind = z.infer<typeof ErrorKind>;

/** JSON-RPC 2.0 reserved codes for the envelope; application kinds share -32000. */
export const JSONRPC_CODES: Record<ErrorKind, number> = {
  "parse-error": -32700,
  "invalid-request": -32600,
  "method-not-found": -32601,
  "invalid-params": -32602,
  internal: -32603,
  unauthorized: -32001,
  "version-mismatch": -32002,
  "not-found": -32000,
  "already-exists": -32000,
  "invalid-argument": -32000,
  "out-of-range": -32000,
  "no-space": -32000,
  "io-error": -32000,
  "snapshot-invalid": -32000,
  busy: -32000,
  closed: -32000,
  "not-supported": -32000,
};

export const Issue = z.object({
  /** Dotted path of the offending field, e.g. "params.sizeBytes" or "params.entries.0.volume". */
  field: z.string(),
  message: z.string(),
});
export type Issue = z.infer<typeof Issue>;

export const ErrorData = z.object({
  kind: ErrorKind,
  issues: z.array(Issue).optional(),
});
export type ErrorData = z.infer<typeof ErrorData>;

export const ErrorObject = z.object({
  code: z.number().int(),
  message: z.string(),
  data: ErrorData.optional(),
});
export type ErrorObject = z.infer<typeof ErrorObject>;

/** Thrown by handlers and clients alike. */
export class RpcError extends Error {
  override readonly name = "RpcError";
  constructor(
    readonly kind: ErrorKind,
    message: string,
    readonly issues?: Issue[],
  ) {
    super(message);
  }

  get code(): number {
    return JSONRPC_CODES[this.kind];
  }

  toErrorObject(): ErrorObject {
    const data: ErrorData = this.issues ? { kind: this.kind, issues: this.issues } : { kind: this.kind };
    return { code: this.code, message: this.message, data };
  }

  static fromErrorObject(error: ErrorObject): RpcError {
    const kind = error.data?.kind ?? kindFromCode(error.code);
    return new RpcError(kind, error.message, error.data?.issues);
  }
}

function kindFromCode(code: number): ErrorKind {
  for (const [kind, c] of Object.entries(JSONRPC_CODES))
    if (c === code && c !== -32000) return kind as ErrorKind;
  return "internal";
}

/** Turns zod issues into field-named issues, prefixed with where the value sat ("params"). */
export function issuesFrom(error: z.ZodError, prefix: string): Issue[] {
  return error.issues.map((issue) => ({
    field: [prefix, ...issue.path.map(String)].filter((p) => p !== "").join("."),
    message: issue.message,
  }));
}

/** "params.sizeBytes: Too small: expected number to be >=1; params.name: Required" */
export function describeIssues(issues: Issue[]): string {
  return issues.map((i) => `${i.field}: ${i.message}`).join("; ");
}
