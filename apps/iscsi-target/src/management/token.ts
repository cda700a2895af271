// The API bearer token: generated once into <dataDir>/api-token (mode 0600) and reused across restarts,
// so a CLI on the same host can read it and a remote client must be handed it.
import { randomBytes, timingSafeEqual } from "node:crypto";
import { chmod, mkdir, readFile, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import type { Logger } from "pino";
import { TOKEN_FILE } from "./files.js";

export const TOKEN_PREFIX = "livesnap_";

export async function loadOrCreateToken(dataDir: string, logger: Logger): Promise<string> {
  const path = join(dataDir, TOKEN_FILE);
  await mkdir(dataDir, { recursive: true });
  // A fixed prefix: a token never starts with "-" (base64url's alphabet has it), which a command
  // line would read as an option (`--token -x…`), and a leaked one is easy to recognise.
  const token = `${TOKEN_PREFIX}${randomBytes(32).toString("base64url")}`;
  try {
    // "wx": two daemons starting at once cannot both write a token.
    await writeFile(path, `${token}\n`, { mode: 0o600, flag: "wx" });
    logger.info({ path }, "generated management API token");
    return token;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
  }
  const existing = (await readFile(path, "utf8")).trim();
  if (existing.length < 16) throw new Error(`${path}: token is missing or shorter than 16 characters`);
  const mode = (await stat(path)).mode & 0o777;
  if (mode & 0o077) {
    logger.warn({ path, mode: mode.toString(8) }, "token file was readable by others; restricting to 0600");
    await chmod(path, 0o600);
  }
  return existing;
}

/** Constant-time comparison (no early exit on the first differing byte). */
export function tokenMatches(expected: string, presented: string | undefined): boolean {
  if (presented === undefined) return false;
  const a = Buffer.from(expected);
  const b = Buffer.from(presented);
  return a.length === b.length && timingSafeEqual(a, b);
}

/** The token from an `Authorization: Bearer <token>` header. */
export function bearerToken(header: string | undefined): string | undefined {
  const match = header?.match(/^Bearer\s+(\S+)\s*$/i);
  return match?.[1];
}
