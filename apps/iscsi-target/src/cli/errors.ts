// Exit codes and the one error type commands throw; main.ts prints it and exits with its code.
import { RpcError } from "@livesnap/protocol";

export const EXIT = {
  ok: 0,
  /** The daemon refused or failed the operation. */
  failed: 1,
  /** Bad command line (unknown command/flag, missing argument, invalid value). */
  usage: 2,
  /** Cannot reach the daemon. */
  unreachable: 3,
  /** Missing or wrong API token. */
  unauthorized: 4,
  /** The volume/snapshot/LUN does not exist. */
  notFound: 5,
} as const;

export class CliError extends Error {
  override readonly name = "CliError";
  constructor(
    message: string,
    readonly exitCode: number = EXIT.failed,
  ) {
    super(message);
  }
}

export function exitCodeOf(err: unknown): number {
  if (err instanceof CliError) return err.exitCode;
  if (err instanceof RpcError) {
    if (err.kind === "unauthorized") return EXIT.unauthorized;
    if (err.kind === "not-found") return EXIT.notFound;
    if (err.kind === "invalid-params" || err.kind === "invalid-argument") return EXIT.usage;
    return EXIT.failed;
  }
  if (err instanceof Error && err.message.startsWith("cannot reach")) return EXIT.unreachable;
  return EXIT.failed;
}
