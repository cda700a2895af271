// Run external initiator tools; a missing tool fails the test with a clear message.
import { execFile } from "node:child_process";
import { accessSync, constants } from "node:fs";
import { delimiter, join } from "node:path";

export function requireTool(name: string): string {
  for (const dir of (process.env.PATH ?? "").split(delimiter)) {
    const p = join(dir, name);
    try {
      accessSync(p, constants.X_OK);
      return p;
    } catch {}
  }
  throw new Error(
    `${name} is not installed (needed by this test: apt-get install libiscsi-bin qemu-utils qemu-block-extra)`,
  );
}

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

export function run(tool: string, args: string[], timeoutMs = 60_000): Promise<RunResult> {
  const path = requireTool(tool);
  return new Promise((resolve) => {
    execFile(path, args, { timeout: timeoutMs, maxBuffer: 64 * 1024 * 1024 }, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === "number" ? err.code : 1) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}
