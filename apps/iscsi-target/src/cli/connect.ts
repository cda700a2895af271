// Where the daemon is and how to authenticate: --url/--token, then LIVESNAP_URL/LIVESNAP_TOKEN, then
// the data directory's api-url and api-token files (--data-dir, LIVESNAP_DATA_DIR, ./.livesnap-data).
import { readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { createClient, httpTransport, PROTOCOL_VERSION, type RpcClient, RpcError } from "@livesnap/protocol";
import { API_URL_FILE, TOKEN_FILE } from "../management/files.js";
import { CliError, EXIT } from "./errors.js";

export const DEFAULT_URL = "http://127.0.0.1:7260";

export interface ConnectionFlags {
  url?: string | undefined;
  token?: string | undefined;
  dataDir?: string | undefined;
}

export function defaultDataDir(env: NodeJS.ProcessEnv): string {
  return resolve(env.LIVESNAP_DATA_DIR ?? ".livesnap-data");
}

export function resolveConnection(
  flags: ConnectionFlags,
  env: NodeJS.ProcessEnv,
): { url: string; token: string } {
  const dataDir = flags.dataDir ? resolve(flags.dataDir) : defaultDataDir(env);
  const url = flags.url ?? env.LIVESNAP_URL ?? readTrimmed(join(dataDir, API_URL_FILE)) ?? DEFAULT_URL;
  try {
    new URL(url);
  } catch {
    throw new CliError(`--url: "${url}" is not a URL (example: http://127.0.0.1:7260)`, EXIT.usage);
  }
  const token = flags.token ?? env.LIVESNAP_TOKEN ?? readTrimmed(join(dataDir, TOKEN_FILE));
  if (!token) {
    throw new CliError(
      `no API token: pass --token, set LIVESNAP_TOKEN, or point --data-dir at the daemon's data directory (${join(dataDir, TOKEN_FILE)} not found)`,
      EXIT.unauthorized,
    );
  }
  return { url, token };
}

/** An HTTP client, after checking that the daemon speaks this CLI's protocol version. */
export async function connectHttp(connection: { url: string; token: string }): Promise<RpcClient> {
  const client = createClient(httpTransport(connection));
  try {
    await client.call("hello", { protocolVersion: PROTOCOL_VERSION, client: "livesnap-cli" });
  } catch (err) {
    if (err instanceof RpcError && err.kind === "version-mismatch") {
      throw new CliError(
        `the daemon at ${connection.url} cannot serve this CLI: ${err.message}`,
        EXIT.failed,
      );
    }
    throw err;
  }
  return client;
}

function readTrimmed(path: string): string | undefined {
  try {
    return readFileSync(path, "utf8").trim() || undefined;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw new CliError(`cannot read ${path}: ${(err as Error).message}`, EXIT.unauthorized);
  }
}
