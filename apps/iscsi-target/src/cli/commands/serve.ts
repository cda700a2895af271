// livesnap serve: run the daemon in the foreground until SIGTERM/SIGINT.
import { join, resolve } from "node:path";
import pino from "pino";
import { startDaemon } from "../../daemon.js";
import { TOKEN_FILE } from "../../management/files.js";
import { type CommandSpec, stringFlag } from "../command.js";
import { defaultDataDir } from "../connect.js";
import { CliError, EXIT } from "../errors.js";
import { parseInteger } from "../format.js";

/** "127.0.0.1:3260", "[::1]:3260" → { host, port }. */
export function parseListen(text: string, what: string): { host: string; port: number } {
  const match = /^(?:\[([^\]]+)\]|([^:]+)):(\d+)$/.exec(text);
  if (!match) throw new CliError(`${what}: "${text}" is not host:port (example: 127.0.0.1:3260)`, EXIT.usage);
  const port = parseInteger(match[3]!, `${what} port`);
  if (port > 65535) throw new CliError(`${what}: port ${port} is over 65535`, EXIT.usage);
  return { host: match[1] ?? match[2]!, port };
}

const LEVELS = ["fatal", "error", "warn", "info", "debug", "trace", "silent"];

export const serveCommand: CommandSpec = {
  path: ["serve"],
  summary: "Run the target: iSCSI portals + management API (foreground)",
  args: [],
  local: true,
  flags: {
    config: {
      type: "string",
      value: "<file>",
      description: "JSON config (targets, portals, CHAP, initiators)",
    },
    portal: {
      type: "string",
      multiple: true,
      value: "<host:port>",
      description: "iSCSI portal, repeatable (default from config: 127.0.0.1:3260)",
    },
    api: {
      type: "string",
      value: "<host:port>",
      description: "Management API address (default 127.0.0.1:7260)",
    },
    "log-level": {
      type: "string",
      value: "<level>",
      description: "fatal|error|warn|info|debug|trace (default info)",
    },
  },
  details:
    "Logs (pino JSON) go to stderr. When ready, prints one line to stdout: human text, or with --json\n" +
    '{"ready":true,"apiUrl":...,"portals":[...],"tokenFile":...}. Port 0 picks a free port.',
  async run(run) {
    const dataDir = resolve(stringFlag(run, "data-dir") ?? defaultDataDir(run.io.env));
    const level = stringFlag(run, "log-level") ?? run.io.env.LIVESNAP_LOG_LEVEL ?? "info";
    if (!LEVELS.includes(level))
      throw new CliError(`--log-level: "${level}" is not one of ${LEVELS.join("|")}`, EXIT.usage);
    const portals = ((run.flags.portal as string[] | undefined) ?? []).map((p) => parseListen(p, "--portal"));
    const api = stringFlag(run, "api");
    const config = stringFlag(run, "config");
    const logger = pino({ level, base: { pid: process.pid } }, pino.destination(2));

    const daemon = await startDaemon({
      dataDir,
      logger,
      ...(config !== undefined ? { configFile: resolve(config) } : {}),
      ...(portals.length > 0 ? { portals } : {}),
      ...(api !== undefined ? { apiListen: parseListen(api, "--api") } : {}),
    });
    const tokenFile = join(dataDir, TOKEN_FILE);
    if (run.json) {
      run.io.stdout(
        `${JSON.stringify({ ready: true, apiUrl: daemon.apiUrl, portals: daemon.portals, tokenFile })}\n`,
      );
    } else {
      const portalText = daemon.portals.map((p) => `${p.host}:${p.port}`).join(", ");
      run.io.stdout(
        `livesnap serving iSCSI on ${portalText}, API on ${daemon.apiUrl} (token in ${tokenFile})\n`,
      );
    }

    // First signal: clean stop (drain, log out, flush). A second one while stopping: leave now.
    await new Promise<void>((resolveStop) => {
      let stopping = false;
      const onSignal = (signal: NodeJS.Signals) => {
        if (stopping) {
          logger.warn({ signal }, "second signal while stopping; exiting without a clean stop");
          process.exit(EXIT.failed);
        }
        stopping = true;
        logger.info({ signal }, "stopping");
        daemon.stop().then(resolveStop, (err: unknown) => {
          logger.error({ err }, "clean stop failed");
          process.exitCode = EXIT.failed;
          resolveStop();
        });
      };
      process.on("SIGTERM", onSignal);
      process.on("SIGINT", onSignal);
    });
    logger.flush();
    return typeof process.exitCode === "number" ? process.exitCode : 0;
  },
};
