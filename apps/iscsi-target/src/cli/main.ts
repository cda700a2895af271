// The livesnap command line: finds the command, parses its flags with node:util parseArgs, runs it,
// and turns every failure into one clear line on stderr and a documented exit code.
import { parseArgs } from "node:util";
import { type RpcClient, RpcError } from "@livesnap/protocol";
import pkg from "../../package.json" with { type: "json" };
import type { CliIO, CommandRun, CommandSpec, FlagSpec } from "./command.js";
import { exportCommand } from "./commands/export.js";
import { inspectCommands } from "./commands/inspect.js";
import { serveCommand } from "./commands/serve.js";
import { snapshotCommands } from "./commands/snapshot.js";
import { volumeCommands } from "./commands/volume.js";
import { connectHttp, resolveConnection } from "./connect.js";
import { CliError, EXIT, exitCodeOf } from "./errors.js";

export const VERSION: string = pkg.version;

export const commands: CommandSpec[] = [
  serveCommand,
  ...volumeCommands,
  ...snapshotCommands,
  ...inspectCommands,
  exportCommand,
];

const COMMON_FLAGS: Record<string, FlagSpec> = {
  json: { type: "boolean", description: "Machine-readable JSON on stdout" },
  help: { type: "boolean", short: "h", description: "Show help for this command" },
  "data-dir": {
    type: "string",
    value: "<dir>",
    description: "Daemon data directory (default $LIVESNAP_DATA_DIR or ./.livesnap-data)",
  },
};
const CONNECTION_FLAGS: Record<string, FlagSpec> = {
  url: {
    type: "string",
    value: "<url>",
    description: "Management API URL (default $LIVESNAP_URL, <data-dir>/api-url)",
  },
  token: {
    type: "string",
    value: "<token>",
    description: "API token (default $LIVESNAP_TOKEN, <data-dir>/api-token)",
  },
};

const EXIT_HELP = `Exit codes: 0 ok, 1 operation failed, 2 usage error, 3 daemon unreachable, 4 unauthorized, 5 not found.`;

export function processIO(): CliIO {
  return {
    stdout: (t) => process.stdout.write(t),
    stderr: (t) => process.stderr.write(t),
    env: process.env,
    interactive: process.stderr.isTTY === true,
    color: process.stdout.isTTY === true && process.env.NO_COLOR === undefined,
  };
}

export async function main(argv: string[], io: CliIO = processIO()): Promise<number> {
  try {
    return await dispatch(argv, io);
  } catch (err) {
    io.stderr(`livesnap: ${describe(err)}\n`);
    return exitCodeOf(err);
  }
}

async function dispatch(argv: string[], io: CliIO): Promise<number> {
  if (argv.length === 0 || argv[0] === "help" || argv[0] === "--help" || argv[0] === "-h") {
    const topic = argv[0] === "help" ? argv.slice(1) : [];
    const spec = topic.length ? findCommand(topic)?.spec : undefined;
    io.stdout(spec ? commandHelp(spec) : overview());
    return argv.length === 0 ? EXIT.usage : EXIT.ok;
  }
  if (argv[0] === "--version" || argv[0] === "version") {
    io.stdout(`livesnap ${VERSION}\n`);
    return EXIT.ok;
  }
  const found = findCommand(argv);
  if (!found) {
    const group = commands.filter((c) => c.path[0] === argv[0] && c.path.length > 1);
    if (group.length > 0) {
      const wanted =
        argv[1] && !argv[1].startsWith("-")
          ? `unknown command "${argv[0]} ${argv[1]}"`
          : `"${argv[0]}" needs a subcommand`;
      throw new CliError(`${wanted}; one of: ${group.map((c) => c.path[1]).join(", ")}`, EXIT.usage);
    }
    throw new CliError(`unknown command "${argv[0]}"; run "livesnap --help"`, EXIT.usage);
  }
  const { spec, rest } = found;
  const flagSpecs = allFlags(spec);
  let parsed: ReturnType<typeof parseArgs>;
  try {
    parsed = parseArgs({
      args: rest,
      options: Object.fromEntries(
        Object.entries(flagSpecs).map(([name, f]) => [
          name,
          { type: f.type, ...(f.short ? { short: f.short } : {}), ...(f.multiple ? { multiple: true } : {}) },
        ]),
      ),
      allowPositionals: true,
      strict: true,
    });
  } catch (err) {
    throw new CliError(`${spec.path.join(" ")}: ${(err as Error).message}`, EXIT.usage);
  }
  if (parsed.values.help) {
    io.stdout(commandHelp(spec));
    return EXIT.ok;
  }
  checkPositionals(spec, parsed.positionals);

  const flags = parsed.values as CommandRun["flags"];
  const connection = async () =>
    resolveConnection(
      {
        url: flags.url as string | undefined,
        token: flags.token as string | undefined,
        dataDir: flags["data-dir"] as string | undefined,
      },
      io.env,
    );
  let connected: Promise<RpcClient> | undefined;
  const client = () => {
    connected ??= connection().then(connectHttp);
    return connected;
  };
  const run: CommandRun = {
    positionals: parsed.positionals,
    flags,
    json: flags.json === true,
    io,
    connection,
    client,
    call: async (method, params) => (await client()).call(method, params),
  };
  return (await spec.run(run)) ?? EXIT.ok;
}

function findCommand(argv: string[]): { spec: CommandSpec; rest: string[] } | undefined {
  // Longest path first: "group snapshot" before a hypothetical "group".
  const sorted = [...commands].sort((a, b) => b.path.length - a.path.length);
  for (const spec of sorted) {
    if (spec.path.every((word, i) => argv[i] === word)) return { spec, rest: argv.slice(spec.path.length) };
  }
  return undefined;
}

function allFlags(spec: CommandSpec): Record<string, FlagSpec> {
  return { ...(spec.flags ?? {}), ...(spec.local ? {} : CONNECTION_FLAGS), ...COMMON_FLAGS };
}

function checkPositionals(spec: CommandSpec, positionals: string[]): void {
  const required = spec.args.filter((a) => a.startsWith("<")).length;
  const variadic = spec.args.some((a) => a.endsWith("...>") || a.endsWith("...]"));
  const usage = `usage: livesnap ${spec.path.join(" ")} ${spec.args.join(" ")}`.trimEnd();
  if (positionals.length < required) {
    const missing = spec.args.filter((a) => a.startsWith("<"))[positionals.length];
    throw new CliError(`${spec.path.join(" ")}: missing ${missing}\n${usage}`, EXIT.usage);
  }
  if (!variadic && positionals.length > spec.args.length) {
    throw new CliError(
      `${spec.path.join(" ")}: unexpected argument "${positionals[spec.args.length]}"\n${usage}`,
      EXIT.usage,
    );
  }
}

function commandHelp(spec: CommandSpec): string {
  const flags = Object.entries(allFlags(spec)).map(([name, f]) => {
    const left = `${f.short ? `-${f.short}, ` : "    "}--${name}${f.value ? ` ${f.value}` : ""}`;
    return `  ${left.padEnd(30)} ${f.description}`;
  });
  return [
    `livesnap ${spec.path.join(" ")} — ${spec.summary}`,
    "",
    `usage: livesnap ${spec.path.join(" ")} ${spec.args.join(" ")}${flags.length ? " [options]" : ""}`.trimEnd(),
    ...(spec.details ? ["", spec.details] : []),
    "",
    "options:",
    ...flags,
    "",
    EXIT_HELP,
    "",
  ].join("\n");
}

function overview(): string {
  const rows = commands.map((c) => `  ${`${c.path.join(" ")} ${c.args.join(" ")}`.padEnd(42)} ${c.summary}`);
  return [
    `livesnap ${VERSION} — live copy-on-write snapshots served over iSCSI`,
    "",
    "usage: livesnap <command> [arguments] [options]",
    "",
    "commands:",
    ...rows,
    "",
    "Every command takes --help, --json and --data-dir; client commands also --url and --token.",
    "Connection: --url/--token, else $LIVESNAP_URL/$LIVESNAP_TOKEN, else <data-dir>/api-url and api-token.",
    EXIT_HELP,
    "",
  ].join("\n");
}

function describe(err: unknown): string {
  if (err instanceof RpcError) {
    return err.issues?.length ? `${err.message}` : err.message;
  }
  if (err instanceof Error) return err.message;
  return String(err);
}
