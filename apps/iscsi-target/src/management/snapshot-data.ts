// GET /v1/volumes/:volume/snapshots/:snapshot/data — a snapshot's bytes, streamed with backpressure,
// one byte range (RFC 9110 Range) at most. Used by `livesnap export`.
import type { ServerResponse } from "node:http";
import type { PoolHandle } from "@livesnap/engine";

const READ_SIZE = 1024 * 1024;

export const SNAPSHOT_DATA_ROUTE = /^\/v1\/volumes\/([^/]+)\/snapshots\/([^/]+)\/data$/;

export type ParsedRange = { start: number; end: number } | "unsatisfiable" | undefined;

/** Parses a single `bytes=` range against `size`; undefined = whole content (absent or ignorable header). */
export function parseRange(header: string | undefined, size: number): ParsedRange {
  if (!header) return undefined;
  const match = /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  if (!match) return undefined; // multi-range or other units: serve the whole content (allowed by RFC 9110)
  const [, first, last] = match;
  if (first === "" && last === "") return undefined;
  if (first === "") {
    const suffix = Number(last);
    if (suffix === 0 || size === 0) return "unsatisfiable";
    return { start: Math.max(0, size - suffix), end: size - 1 };
  }
  const start = Number(first);
  const end = last === "" ? size - 1 : Math.min(Number(last), size - 1);
  if (start >= size || end < start) return "unsatisfiable";
  return { start, end };
}

export async function serveSnapshotData(
  pool: PoolHandle,
  volume: string,
  snapshot: string,
  rangeHeader: string | undefined,
  headOnly: boolean,
  res: ServerResponse,
): Promise<void> {
  const reader = pool.getVolume(volume).getSnapshot(snapshot); // throws not-found
  const size = reader.sizeBytes;
  const range = parseRange(rangeHeader, size);
  if (range === "unsatisfiable") {
    res.writeHead(416, { "content-range": `bytes */${size}` }).end();
    return;
  }
  const start = range?.start ?? 0;
  const end = range?.end ?? size - 1;
  const length = size === 0 ? 0 : end - start + 1;
  res.writeHead(range ? 206 : 200, {
    "content-type": "application/octet-stream",
    "content-length": String(length),
    "accept-ranges": "bytes",
    ...(range ? { "content-range": `bytes ${start}-${end}/${size}` } : {}),
    "x-livesnap-block-size": String(reader.blockSize),
  });
  if (headOnly || length === 0) {
    res.end();
    return;
  }
  let aborted = false;
  res.on("close", () => {
    aborted = !res.writableFinished;
  });
  // The engine reads whole logical blocks: read aligned, send the requested bytes.
  const block = reader.blockSize;
  for (let offset = start; offset <= end && !aborted; ) {
    const length = Math.min(READ_SIZE, end + 1 - offset);
    const alignedStart = Math.floor(offset / block) * block;
    const alignedEnd = Math.min(size, Math.ceil((offset + length) / block) * block);
    const aligned = await reader.read(alignedStart, alignedEnd - alignedStart);
    const data = aligned.subarray(offset - alignedStart, offset - alignedStart + length);
    offset += length;
    if (!res.write(data)) {
      await new Promise<void>((resolve) => {
        const done = () => {
          res.off("drain", done);
          res.off("close", done);
          resolve();
        };
        res.on("drain", done);
        res.on("close", done);
      });
    }
  }
  res.end();
}
