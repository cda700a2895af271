// The management methods, implemented on the engine pool and the iSCSI side (TargetControl).
import type { PoolHandle } from "@livesnap/engine";
import {
  type EventName,
  encodeBlockMap,
  eventNames,
  type Handlers,
  methodNames,
  PROTOCOL_VERSION,
  RpcError,
} from "@livesnap/protocol";
import type { TargetControl } from "../target-control.js";
import { tokenMatches } from "./token.js";

/** What the server knows about the connection a call arrived on. */
export interface CallContext {
  transport: "http" | "ws";
  authenticated: boolean;
  /** WebSocket only: what this connection receives. null = nothing subscribed. */
  subscription: { events: Set<EventName>; volumes: Set<string> | null } | null;
}

export interface HandlerDeps {
  pool: PoolHandle;
  control: TargetControl;
  token: string;
  version: string;
}

export function createHandlers({ pool, control, token, version }: HandlerDeps): Handlers<CallContext> {
  /** LUNs currently exporting a snapshot: they go before the snapshot does. */
  const lunsOfSnapshot = (volume: string, snapshot: string) =>
    control
      .listTargets()
      .flatMap((t) => t.luns)
      .filter(
        (l) => l.source.kind === "snapshot" && l.source.volume === volume && l.source.snapshot === snapshot,
      );

  return {
    hello(params) {
      if (params.protocolVersion !== PROTOCOL_VERSION) {
        throw new RpcError(
          "version-mismatch",
          `protocol version ${params.protocolVersion} is not supported; this server speaks ${PROTOCOL_VERSION}`,
        );
      }
      return {
        protocolVersion: PROTOCOL_VERSION,
        serverVersion: version,
        methods: methodNames,
        events: eventNames,
      };
    },
    auth(params, ctx) {
      if (!tokenMatches(token, params.token)) {
        ctx.authenticated = false;
        throw new RpcError("unauthorized", "wrong token");
      }
      ctx.authenticated = true;
      return {};
    },
    "events.subscribe"(params, ctx) {
      if (ctx.transport !== "ws") throw new RpcError("not-supported", "events need a WebSocket connection");
      const subscribed = params.events ?? eventNames;
      ctx.subscription = {
        events: new Set(subscribed),
        volumes: params.volumes ? new Set(params.volumes) : null,
      };
      return { events: [...subscribed] };
    },
    "events.unsubscribe"(_params, ctx) {
      ctx.subscription = null;
      return {};
    },

    "target.list": () => ({ targets: control.listTargets() }),
    "session.list": () => ({ sessions: control.listSessions() }),

    "volume.list": () => ({ volumes: pool.listVolumes() }),
    "volume.get": (params) => ({ volume: pool.getVolume(params.volume).info }),
    async "volume.create"(params) {
      const handle = await pool.createVolume(params.name, {
        sizeBytes: params.sizeBytes,
        ...(params.blockSize ? { blockSize: params.blockSize } : {}),
        ...(params.chunkSize ? { chunkSize: params.chunkSize } : {}),
      });
      await control.volumeChanged(params.name);
      return { volume: handle.info };
    },
    async "volume.delete"(params) {
      pool.getVolume(params.volume); // not-found before touching the LUNs
      await pool.deleteVolume(params.volume);
      await control.volumeChanged(params.volume);
      return {};
    },
    async "volume.resize"(params) {
      const volume = pool.getVolume(params.volume);
      await volume.resize(params.sizeBytes);
      await control.volumeChanged(params.volume);
      return { volume: pool.getVolume(params.volume).info };
    },

    async "snapshot.create"(params) {
      return { snapshot: await pool.getVolume(params.volume).createSnapshot(params.name) };
    },
    "snapshot.list": (params) => ({ snapshots: pool.getVolume(params.volume).listSnapshots() }),
    async "snapshot.delete"(params) {
      const volume = pool.getVolume(params.volume);
      volume.getSnapshot(params.snapshot); // not-found before withdrawing anything
      for (const lun of lunsOfSnapshot(params.volume, params.snapshot))
        await control.withdrawLun(lun.target, lun.lun);
      await volume.deleteSnapshot(params.snapshot);
      return {};
    },
    async "snapshot.rollback"(params) {
      const volume = pool.getVolume(params.volume);
      // Progress reaches subscribers through the pool's "rollback-progress" events.
      await volume.rollback(params.snapshot);
      return { volume: pool.getVolume(params.volume).info };
    },
    async "snapshot.expose"(params) {
      pool.getVolume(params.volume).getSnapshot(params.snapshot); // a clear not-found from the engine
      return { lun: await control.exposeSnapshot(params.volume, params.snapshot, params.lun) };
    },
    async "lun.withdraw"(params) {
      await control.withdrawLun(params.target, params.lun);
      return {};
    },
    async "group.snapshot"(params) {
      for (const entry of params.entries) pool.getVolume(entry.volume);
      const snapshots = await pool.createGroupSnapshot(params.entries);
      const group = snapshots[0]?.group;
      return group === undefined ? { snapshots } : { group, snapshots };
    },

    "blockmap.get"(params) {
      const map = pool.getVolume(params.volume).blockMap({
        buckets: params.buckets,
        ...(params.snapshot !== undefined ? { view: params.snapshot } : {}),
        ...(params.start !== undefined ? { start: params.start } : {}),
        ...(params.end !== undefined ? { end: params.end } : {}),
        ...(params.since !== undefined ? { since: params.since } : {}),
      });
      return encodeBlockMap(map);
    },
    "chunks.changed": (params) => pool.getVolume(params.volume).changedChunks(params.from, params.to),
    "stats.get"(params) {
      const names = params.volume !== undefined ? [params.volume] : pool.listVolumes().map((v) => v.name);
      return { volumes: names.map((name) => ({ volume: name, stats: pool.getVolume(name).stats() })) };
    },
  };
}
