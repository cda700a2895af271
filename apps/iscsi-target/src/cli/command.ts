// What a command is: its place in the command tree, flags, positionals and help text. main.ts parses
// with node:util parseArgs from these declarations, so help and parsing cannot disagree.
import type { MethodName, MethodParams, MethodResult, RpcClient } from "@livesnap/protocol";

export interface FlagSpec {
  type: "string" | "boolean";
  short?: string;
  multiple?: boolean;
  description: string;
  /** Shown in help, e.g. "<size>". */
  value?: string;
}

export interface CliIO {
  stdout: (text: string) => void;
  stderr: (text: string) => void;
  env: NodeJS.ProcessEnv;
  /** True when stderr is a terminal (progress bars). */
  interactive: boolean;
  /** True when stdout is a terminal (colors). */
  color: boolean;
}

export interface CommandRun {
  positionals: string[];
  flags: Record<string, string | boolean | string[] | undefined>;
  json: boolean;
  io: CliIO;
  /** Connects with --url/--token/--data-dir or the environment (HTTP one-shot calls). */
  client(): Promise<RpcClient>;
  /** One call on client(); its params are built (and checked) before connecting. */
  call<M extends MethodName>(method: M, params: MethodParams<M>): Promise<MethodResult<M>>;
  /** The resolved connection (for streaming endpoints). */
  connection(): Promise<{ url: string; token: string }>;
}

export interface CommandSpec {
  path: string[];
  summary: string;
  /** Positional arguments as shown in usage, e.g. ["<volume>", "<size>"]; "[x]" = optional, "<x...>" = 1 or more. */
  args: string[];
  flags?: Record<string, FlagSpec>;
  /** Extra paragraphs for --help. */
  details?: string;
  /** Needs no daemon connection (serve). */
  local?: boolean;
  run(run: CommandRun): Promise<number | undefined>;
}

export function stringFlag(run: CommandRun, name: string): string | undefined {
  const value = run.flags[name];
  return typeof value === "string" ? value : undefined;
}

export function printJson(run: CommandRun, value: unknown): void {
  run.io.stdout(`${JSON.stringify(value, null, 2)}\n`);
}
