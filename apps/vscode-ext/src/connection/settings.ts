// Saved connections (setting `livesnap.connections`): parsed defensively, because users edit
// settings.json by hand. A bad entry is reported and skipped; the others still load. Pure.
import type { ConnectionConfig } from "./connection.js";
import { normaliseUrl } from "./ws-transport.js";

export const DEFAULT_URL = "ws://127.0.0.1:7260";

export interface ParsedConnections {
  connections: ConnectionConfig[];
  problems: string[];
}

export function parseConnections(raw: unknown): ParsedConnections {
  const connections: ConnectionConfig[] = [];
  const problems: string[] = [];
  if (raw === undefined || raw === null) return { connections, problems };
  if (!Array.isArray(raw)) return { connections, problems: ["livesnap.connections must be an array"] };
  raw.forEach((entry: unknown, i) => {
    const where = `livesnap.connections[${i}]`;
    if (typeof entry !== "object" || entry === null) {
      problems.push(`${where}: must be an object with "name" and "url"`);
      return;
    }
    const { name, url } = entry as { name?: unknown; url?: unknown };
    if (typeof name !== "string" || name.trim() === "") {
      problems.push(`${where}.name: must be a non-empty string`);
      return;
    }
    if (typeof url !== "string") {
      problems.push(`${where}.url: must be a string such as ${DEFAULT_URL}`);
      return;
    }
    try {
      normaliseUrl(url);
    } catch (err) {
      problems.push(`${where}.url: ${err instanceof Error ? err.message : String(err)}`);
      return;
    }
    if (connections.some((c) => c.name === name.trim())) {
      problems.push(`${where}.name: "${name}" is used twice; the first one wins`);
      return;
    }
    connections.push({ name: name.trim(), url });
  });
  return { connections, problems };
}

/** Where a target's token lives in SecretStorage: per endpoint, so renaming keeps it. */
export function tokenKey(url: string): string {
  return `livesnap.token:${normaliseUrl(url)}`;
}

/** Validates a URL typed into the "Add connection" box; undefined = fine. */
export function validateUrl(text: string): string | undefined {
  try {
    normaliseUrl(text.trim());
    return undefined;
  } catch (err) {
    return err instanceof Error && /Invalid URL/i.test(err.message)
      ? `not a URL; expected something like ${DEFAULT_URL}`
      : err instanceof Error
        ? err.message
        : String(err);
  }
}
