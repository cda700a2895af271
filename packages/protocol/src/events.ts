// The event table: every push notification, declared once. On the wire an event is a JSON-RPC
// notification whose method is the event name and whose params are the event's payload.
import { z } from "zod";
import { ChunkRuns } from "./blockmap.js";
import { RollbackProgress, Session, Snapshot, Target, Volume, VolumeRates } from "./model.js";

export const events = {
  "snapshot.created": z.object({ volume: z.string(), snapshot: Snapshot }),
  "snapshot.deleted": z.object({ volume: z.string(), snapshot: z.string() }),
  "snapshot.invalidated": z.object({ volume: z.string(), snapshot: z.string(), reason: z.string() }),
  "rollback.progress": RollbackProgress,
  /**
   * Chunks written in the live volume since the previous delta, merged into runs. Coalesced by the
   * server: at most 10 per second per volume.
   */
  "blockmap.delta": z.object({ volume: z.string(), chunkSize: z.number().int().positive(), runs: ChunkRuns }),
  /** Once a second per volume. */
  "volume.io": VolumeRates,
  "volume.created": z.object({ volume: Volume }),
  "volume.deleted": z.object({ volume: z.string() }),
  "volume.resized": z.object({ volume: Volume }),
  "session.login": Session,
  "session.logout": z.object({
    id: z.number().int(),
    target: z.string(),
    initiator: z.string(),
    reason: z.string(),
  }),
  "lun.changed": Target,
} as const;

export type Events = typeof events;
export type EventName = keyof Events;
export type EventPayload<E extends EventName> = z.output<Events[E]>;

export const eventNames = Object.keys(events) as EventName[];
export const EventName = z.enum(eventNames as [EventName, ...EventName[]]);

export function isEventName(name: string): name is EventName {
  return Object.hasOwn(events, name);
}

/** Which volume an event concerns, for per-volume subscriptions (undefined = not volume-specific). */
export function eventVolume(name: EventName, payload: unknown): string | undefined {
  if (name === "volume.created" || name === "volume.resized")
    return (payload as { volume: { name: string } }).volume.name;
  if (name === "session.login" || name === "session.logout" || name === "lun.changed") return undefined;
  return (payload as { volume: string }).volume;
}
