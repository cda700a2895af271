// The optional native hole punch (native/punch-hole.c, compiled into dist/ by the package build;
// a bundle that embeds the engine ships it beside itself). node:fs has no fallocate. Without the
// binary, or with LIVESNAP_PUNCH_HOLES=0, files report that they cannot punch and callers
// zero-fill instead.
import { createRequire } from "node:module";
import { fileURLToPath } from "node:url";

/** punchHole(fd, offset, length, done): done(0) or done(errno), on libuv's thread pool. */
export type NativePunchHole = (
  fd: number,
  offset: number,
  length: number,
  done: (errno: number) => void,
) => void;

let loaded: NativePunchHole | null | undefined;

export function nativePunchHole(): NativePunchHole | null {
  if (loaded !== undefined) return loaded;
  loaded = null;
  if (process.env.LIVESNAP_PUNCH_HOLES === "0") return loaded;
  const require = createRequire(import.meta.url);
  // Beside a bundle, or in the package's dist/ (from src/ in tests, from dist/ once built).
  for (const rel of ["./punch-hole.node", "../dist/punch-hole.node"]) {
    try {
      const mod = require(fileURLToPath(new URL(rel, import.meta.url))) as { punchHole?: unknown };
      if (typeof mod.punchHole === "function") {
        loaded = mod.punchHole as NativePunchHole;
        break;
      }
    } catch {
      // Not there (or not loadable on this platform): try the next place, else zero-fill.
    }
  }
  return loaded;
}

/** Whether UNMAP and snapshot delete can give blocks back to the file system (else they zero-fill). */
export function holePunchingAvailable(): boolean {
  return nativePunchHole() !== null;
}
