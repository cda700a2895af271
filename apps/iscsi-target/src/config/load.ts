// Read and validate the config file; errors name the file and each offending field.
import { readFile } from "node:fs/promises";
import { DEFAULT_CONFIG } from "./default.js";
import { configSchema, type DaemonConfig } from "./schema.js";

export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ConfigError";
  }
}

export function parseConfig(raw: unknown, source: string): DaemonConfig {
  const result = configSchema.safeParse(raw);
  if (result.success) return result.data;
  const lines = result.error.issues.map((issue) => {
    const path =
      issue.path.length > 0
        ? issue.path
            .map((p) => (typeof p === "number" ? `[${p}]` : `.${String(p)}`))
            .join("")
            .replace(/^\./, "")
        : "(root)";
    return `  ${path}: ${issue.message}`;
  });
  throw new ConfigError(`invalid config ${source}:\n${lines.join("\n")}`);
}

/** The config file, or the embedded default when none is given. */
export async function loadConfig(file: string | undefined): Promise<DaemonConfig> {
  if (file === undefined) return parseConfig(DEFAULT_CONFIG, "(embedded default)");
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (e) {
    throw new ConfigError(`cannot read config ${file}: ${(e as Error).message}`);
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    throw new ConfigError(`config ${file} is not valid JSON: ${(e as Error).message}`);
  }
  return parseConfig(raw, file);
}
