// livesnap export: a snapshot's bytes into a raw image file, streamed from the daemon with a progress bar.
import { createWriteStream } from "node:fs";
import { rename, rm, stat } from "node:fs/promises";
import { Readable, Transform } from "node:stream";
import { pipeline } from "node:stream/promises";
import { RpcError, snapshotDataPath } from "@livesnap/protocol";
import { type CommandSpec, printJson } from "../command.js";
import { CliError, EXIT } from "../errors.js";
import { formatBytes } from "../format.js";
import { ProgressBar } from "../progress.js";

export const exportCommand: CommandSpec = {
  path: ["export"],
  summary: "Copy a snapshot into a raw image file (streamed, with a progress bar)",
  args: ["<volume>", "<snapshot>", "<file>"],
  flags: {
    force: { type: "boolean", short: "f", description: "Overwrite <file> if it exists" },
    quiet: { type: "boolean", short: "q", description: "No progress bar" },
  },
  details:
    "The file is written next to its final name and renamed when complete, so a failed export leaves nothing half-written.",
  async run(run) {
    const [volume, snapshot, file] = run.positionals as [string, string, string];
    if (!run.flags.force && (await stat(file).catch(() => undefined))) {
      throw new CliError(`${file} exists; pass --force to overwrite it`, EXIT.usage);
    }
    const { url, token } = await run.connection();
    const endpoint = new URL(snapshotDataPath(volume, snapshot), url);
    let response: Response;
    try {
      response = await fetch(endpoint, { headers: { authorization: `Bearer ${token}` } });
    } catch (err) {
      const cause = (err as { cause?: { message?: string } }).cause?.message;
      throw new CliError(`cannot reach ${url}: ${cause ?? (err as Error).message}`, EXIT.unreachable);
    }
    if (!response.ok || !response.body) throw await httpError(response);
    const total = Number(response.headers.get("content-length") ?? 0);
    const bar = new ProgressBar(
      total,
      run.io.stderr,
      run.io.interactive && !run.flags.quiet && !run.json,
      `${volume}@${snapshot}`,
    );
    let done = 0;
    const counter = new Transform({
      transform(chunk: Buffer, _enc, callback) {
        done += chunk.length;
        bar.update(done);
        callback(null, chunk);
      },
    });
    const partial = `${file}.partial`;
    try {
      await pipeline(
        Readable.fromWeb(response.body as import("node:stream/web").ReadableStream),
        counter,
        createWriteStream(partial),
      );
      if (done !== total) throw new CliError(`transfer ended after ${done} of ${total} bytes`, EXIT.failed);
      await rename(partial, file);
    } catch (err) {
      await rm(partial, { force: true });
      throw err;
    }
    bar.finish(done);
    if (run.json) printJson(run, { volume, snapshot, file, bytes: done });
    else run.io.stdout(`exported ${volume}@${snapshot} to ${file} (${formatBytes(done)})\n`);
    return 0;
  },
};

async function httpError(response: Response): Promise<Error> {
  const text = await response.text();
  try {
    const body = JSON.parse(text) as { error?: { message?: string; data?: { kind?: string } } };
    if (body.error?.data?.kind && body.error.message) {
      return new RpcError(body.error.data.kind as RpcError["kind"], body.error.message);
    }
  } catch {
    // not JSON
  }
  if (response.status === 401) return new RpcError("unauthorized", "unauthorized: wrong or missing token");
  return new CliError(`HTTP ${response.status}: ${text.slice(0, 200)}`, EXIT.failed);
}
