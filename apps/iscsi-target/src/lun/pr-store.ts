// APTPL persistent reservations on disk: one small JSON file per logical unit identity in
// <dataDir>/reservations/, replaced atomically (temp file, fsync, rename, fsync of the directory)
// so a crash leaves either the old or the new state, never a torn file.
import {
  closeSync,
  fsyncSync,
  mkdirSync,
  openSync,
  readFileSync,
  renameSync,
  rmSync,
  writeSync,
} from "node:fs";
import { join } from "node:path";
import type { PersistedReservations, ReservationPersistence } from "@livesnap/iscsi";
import { z } from "zod";

const persistedSchema = z.object({
  version: z.literal(1),
  generation: z.number().int().nonnegative(),
  registrations: z.array(
    z.object({
      nexus: z.string().min(1),
      initiatorName: z.string().min(1),
      isid: z.string().regex(/^[0-9a-f]{12}$/),
      relativeTargetPortId: z.number().int().min(0).max(0xffff),
      key: z.string().regex(/^[0-9a-f]{16}$/),
    }),
  ),
  reservation: z.object({ holder: z.string().min(1), type: z.number().int().min(1).max(8) }).optional(),
});

function fsyncDir(dir: string): void {
  const fd = openSync(dir, "r");
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/** Persistence for the LU whose permanent identity is `lunId` (volume or snapshot id). */
export function fileReservationPersistence(dataDir: string, lunId: string): ReservationPersistence {
  if (!/^[A-Za-z0-9._-]+$/.test(lunId))
    throw new Error(`reservations: unusable LU id ${JSON.stringify(lunId)}`);
  const dir = join(dataDir, "reservations");
  const file = join(dir, `${lunId}.json`);
  return {
    load(): PersistedReservations | undefined {
      let text: string;
      try {
        text = readFileSync(file, "utf8");
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === "ENOENT") return undefined;
        throw err;
      }
      let parsed: unknown;
      try {
        parsed = JSON.parse(text);
      } catch (err) {
        throw new Error(
          `reservations: ${file} is not valid JSON (${(err as Error).message}); fix or remove it`,
        );
      }
      const result = persistedSchema.safeParse(parsed);
      if (!result.success) {
        const why = result.error.issues
          .map((i) => `${i.path.join(".") || "(root)"}: ${i.message}`)
          .join("; ");
        throw new Error(`reservations: ${file} is malformed (${why}); fix or remove it`);
      }
      return result.data;
    },
    save(state: PersistedReservations | undefined): void {
      mkdirSync(dir, { recursive: true });
      if (state === undefined) {
        rmSync(file, { force: true });
        fsyncDir(dir);
        return;
      }
      const tmp = `${file}.tmp-${process.pid}`;
      const fd = openSync(tmp, "w", 0o600);
      try {
        writeSync(fd, `${JSON.stringify(state, null, 2)}\n`);
        fsyncSync(fd);
      } finally {
        closeSync(fd);
      }
      renameSync(tmp, file);
      fsyncDir(dir);
    },
  };
}
