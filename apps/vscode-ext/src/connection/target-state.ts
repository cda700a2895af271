// What the extension knows about one livesnap target, and how each pushed event changes it. Pure:
// the connection loads it with list calls, then keeps it current from the event stream.
import type { EventName, EventPayload, Session, Snapshot, Target, Volume } from "@livesnap/protocol";

export interface TargetState {
  serverVersion: string;
  volumes: Volume[];
  /** Oldest first, per volume name. */
  snapshots: Map<string, Snapshot[]>;
  /** iSCSI targets (IQN, portals, LUNs). */
  iscsiTargets: Target[];
  sessions: Session[];
}

export function emptyTargetState(serverVersion = ""): TargetState {
  return { serverVersion, volumes: [], snapshots: new Map(), iscsiTargets: [], sessions: [] };
}

export type ConnectionStatus =
  | { kind: "disconnected" }
  | { kind: "connecting"; attempt: number }
  | { kind: "connected" }
  | { kind: "no-token" }
  | { kind: "error"; message: string; retryAt?: number };

/** What changed, so listeners (tree, panels) can refresh only what they show. */
export type StateChange =
  | { kind: "all" }
  | { kind: "volume"; volume: string }
  | { kind: "targets" }
  | { kind: "sessions" }
  | { kind: "none" };

function byName<T extends { name: string }>(a: T, b: T): number {
  return a.name < b.name ? -1 : a.name > b.name ? 1 : 0;
}

function upsertVolume(state: TargetState, volume: Volume): void {
  const i = state.volumes.findIndex((v) => v.name === volume.name);
  if (i >= 0) state.volumes[i] = volume;
  else state.volumes = [...state.volumes, volume].sort(byName);
  if (!state.snapshots.has(volume.name)) state.snapshots.set(volume.name, []);
}

function setSnapshotCount(state: TargetState, volume: string): void {
  const v = state.volumes.find((x) => x.name === volume);
  const snaps = state.snapshots.get(volume);
  if (v && snaps) v.snapshotCount = snaps.length;
}

/**
 * Applies one pushed event in place. Returns what changed. Events about unknown volumes are still
 * applied where that is safe (a snapshot of a volume we have not listed yet creates its list).
 */
export function applyEvent<E extends EventName>(
  state: TargetState,
  event: E,
  payload: EventPayload<E>,
): StateChange {
  switch (event) {
    case "snapshot.created": {
      const p = payload as EventPayload<"snapshot.created">;
      const list = state.snapshots.get(p.volume) ?? [];
      const rest = list.filter((s) => s.name !== p.snapshot.name);
      state.snapshots.set(
        p.volume,
        [...rest, p.snapshot].sort((a, b) => a.seq - b.seq),
      );
      setSnapshotCount(state, p.volume);
      return { kind: "volume", volume: p.volume };
    }
    case "snapshot.deleted": {
      const p = payload as EventPayload<"snapshot.deleted">;
      const list = state.snapshots.get(p.volume);
      if (!list) return { kind: "none" };
      state.snapshots.set(
        p.volume,
        list.filter((s) => s.name !== p.snapshot),
      );
      setSnapshotCount(state, p.volume);
      return { kind: "volume", volume: p.volume };
    }
    case "snapshot.invalidated": {
      const p = payload as EventPayload<"snapshot.invalidated">;
      const list = state.snapshots.get(p.volume);
      const snap = list?.find((s) => s.name === p.snapshot);
      if (!snap) return { kind: "none" };
      snap.valid = false;
      snap.invalidReason = p.reason;
      return { kind: "volume", volume: p.volume };
    }
    case "volume.created":
    case "volume.resized": {
      const p = payload as EventPayload<"volume.created">;
      upsertVolume(state, p.volume);
      return { kind: "volume", volume: p.volume.name };
    }
    case "volume.deleted": {
      const p = payload as EventPayload<"volume.deleted">;
      state.volumes = state.volumes.filter((v) => v.name !== p.volume);
      state.snapshots.delete(p.volume);
      return { kind: "all" };
    }
    case "lun.changed": {
      const target = payload as EventPayload<"lun.changed">;
      const i = state.iscsiTargets.findIndex((t) => t.iqn === target.iqn);
      if (i >= 0) state.iscsiTargets[i] = target;
      else state.iscsiTargets = [...state.iscsiTargets, target];
      return { kind: "targets" };
    }
    case "session.login": {
      const session = payload as EventPayload<"session.login">;
      state.sessions = [...state.sessions.filter((s) => s.id !== session.id), session];
      return { kind: "sessions" };
    }
    case "session.logout": {
      const p = payload as EventPayload<"session.logout">;
      const before = state.sessions.length;
      state.sessions = state.sessions.filter((s) => s.id !== p.id);
      return state.sessions.length === before ? { kind: "none" } : { kind: "sessions" };
    }
    default:
      // blockmap.delta, volume.io, rollback.progress: for panels and progress, not for the tree.
      return { kind: "none" };
  }
}

/** LUN exposing a given snapshot, if any (for the tree's "LUN n" badge). */
export function lunOfSnapshot(state: TargetState, volume: string, snapshot: string) {
  for (const t of state.iscsiTargets) {
    for (const lun of t.luns) {
      if (
        lun.source.kind === "snapshot" &&
        lun.source.volume === volume &&
        lun.source.snapshot === snapshot
      ) {
        return lun;
      }
    }
  }
  return undefined;
}

/** The LUN serving the live volume. */
export function lunOfVolume(state: TargetState, volume: string) {
  for (const t of state.iscsiTargets) {
    for (const lun of t.luns) if (lun.source.kind === "volume" && lun.source.volume === volume) return lun;
  }
  return undefined;
}
