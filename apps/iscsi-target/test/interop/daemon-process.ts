// Spawn the built daemon (dist/livesnap.mjs serve) on ephemeral ports with a temp data dir, and
// talk to its management API over HTTP JSON-RPC.
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { createInterface } from "node:readline";

export const BUNDLE = resolve(import.meta.dirname, "../../dist/livesnap.mjs");

export interface DaemonProcess {
  port: number;
  apiUrl: string;
  token: string;
  dataDir: string;
  url(iqn: string, lun: number, credentials?: string): string;
  rpc<T>(method: string, params: object): Promise<T>;
  stop(): Promise<number | null>;
  /** stderr (pino JSON logs) so far. */
  logs(): string;
}

export async function spawnDaemon(config: object): Promise<DaemonProcess> {
  if (!existsSync(BUNDLE)) {
    throw new Error(`${BUNDLE} is missing: run \`pnpm --filter @livesnap/iscsi-target build\` first`);
  }
  const dir = mkdtempSync(join(tmpdir(), "livesnap-interop-"));
  const configFile = join(dir, "config.json");
  writeFileSync(configFile, JSON.stringify(config));
  const dataDir = join(dir, "data");
  const child: ChildProcess = spawn(
    process.execPath,
    [
      BUNDLE,
      "serve",
      "--json",
      "--data-dir",
      dataDir,
      "--config",
      configFile,
      "--portal",
      "127.0.0.1:0",
      "--api",
      "127.0.0.1:0",
    ],
    { stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, LIVESNAP_LOG_LEVEL: "info" } },
  );
  let stderr = "";
  child.stderr?.on("data", (c: Buffer) => {
    stderr += c.toString();
  });
  const ready = await new Promise<{
    apiUrl: string;
    portals: { host: string; port: number }[];
    tokenFile: string;
  }>((resolveReady, reject) => {
    const timer = setTimeout(() => reject(new Error(`daemon not ready in 30 s:\n${stderr}`)), 30_000);
    child.once("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`daemon exited with ${code} before ready:\n${stderr}`));
    });
    createInterface({ input: child.stdout! }).once("line", (line) => {
      clearTimeout(timer);
      try {
        resolveReady(JSON.parse(line));
      } catch {
        reject(new Error(`unexpected ready line: ${line}`));
      }
    });
  });
  const token = readFileSync(ready.tokenFile, "utf8").trim();
  const port = ready.portals[0]?.port ?? 0;
  let nextId = 1;
  return {
    port,
    apiUrl: ready.apiUrl,
    token,
    dataDir,
    url: (iqn, lun, credentials) =>
      `iscsi://${credentials ? `${credentials}@` : ""}127.0.0.1:${port}/${iqn}/${lun}`,
    async rpc<T>(method: string, params: object): Promise<T> {
      const res = await fetch(`${ready.apiUrl}/v1/rpc`, {
        method: "POST",
        headers: { "content-type": "application/json", authorization: `Bearer ${token}` },
        body: JSON.stringify({ jsonrpc: "2.0", id: nextId++, method, params }),
      });
      const body = (await res.json()) as { result?: T; error?: { message: string } };
      if (body.error) throw new Error(`${method}: ${body.error.message}`);
      return body.result as T;
    },
    logs: () => stderr,
    async stop() {
      if (child.exitCode !== null) return child.exitCode;
      const exited = new Promise<number | null>((r) => child.once("exit", (code) => r(code)));
      child.kill("SIGTERM");
      const timer = setTimeout(() => child.kill("SIGKILL"), 20_000);
      const code = await exited;
      clearTimeout(timer);
      rmSync(dir, { recursive: true, force: true });
      return code;
    },
  };
}
