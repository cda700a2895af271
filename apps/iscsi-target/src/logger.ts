// pino for the daemon: login, logout and errors at info/warn/error; nothing per I/O above debug.
import pino, { type Logger } from "pino";

export type { Logger };

export function createLogger(opts: { level?: string; destination?: number } = {}): Logger {
  return pino(
    {
      level: opts.level ?? process.env.LIVESNAP_LOG_LEVEL ?? "info",
      base: { name: "livesnap" },
      timestamp: pino.stdTimeFunctions.isoTime,
    },
    pino.destination({ dest: opts.destination ?? 2, sync: false }),
  );
}
