// Turns pool and target events into protocol events for subscribed clients. Written-chunk
// notifications are merged per volume and sent at most DELTA_INTERVAL_MS apart, rollback progress
// likewise (latest wins, the final one always goes out); I/O rates are sampled once a second.
import type { PoolEvents, PoolHandle, RollbackProgress, VolumeStats } from "@livesnap/engine";
import { chunksToRuns, type EventName, type EventPayload, events } from "@livesnap/protocol";
import type { Logger } from "pino";
import type { TargetControl, TargetControlEvents } from "../target-control.js";

export const DELTA_INTERVAL_MS = 100;
export const RATES_INTERVAL_MS = 1000;

export type EventSink = <E extends EventName>(name: E, payload: EventPayload<E>) => void;

interface PendingDelta {
  chunks: Set<number>;
  timer: NodeJS.Timeout | undefined;
  lastSent: number;
}

export class EventHub {
  private readonly sinks = new Set<EventSink>();
  private readonly deltas = new Map<string, PendingDelta>();
  /** Latest-wins throttle for rollback progress: the engine reports every 64 chunks. */
  private readonly rollbacks = new Map<
    string,
    { latest: RollbackProgress | undefined; timer: NodeJS.Timeout | undefined; lastSent: number }
  >();
  private readonly lastStats = new Map<string, { at: number; stats: VolumeStats }>();
  private ratesTimer: NodeJS.Timeout | undefined;
  private readonly detach: (() => void)[] = [];

  constructor(
    private readonly pool: PoolHandle,
    private readonly control: TargetControl,
    private readonly logger: Logger,
  ) {}

  start(): void {
    const pe = this.pool.events;
    const ce = this.control.events;
    const onPool = <K extends keyof PoolEvents>(name: K, listener: (...args: PoolEvents[K]) => void) => {
      // The typed EventEmitter's overloads do not resolve a generic key; shapes are checked at each call below.
      pe.on(name, listener as never);
      this.detach.push(() => pe.off(name, listener as never));
    };
    const onTarget = <K extends keyof TargetControlEvents>(
      name: K,
      listener: (...args: TargetControlEvents[K]) => void,
    ) => {
      ce.on(name, listener as never);
      this.detach.push(() => ce.off(name, listener as never));
    };
    onPool("snapshot-created", (e) => this.emit("snapshot.created", e));
    onPool("snapshot-deleted", (e) => this.emit("snapshot.deleted", e));
    onPool("snapshot-invalidated", (e) => this.emit("snapshot.invalidated", e));
    onPool("rollback-progress", (e) => this.rollbackProgress(e));
    onPool("volume-created", (e) => this.emit("volume.created", e));
    onPool("volume-resized", (e) => this.emit("volume.resized", e));
    onPool("volume-deleted", (e) => {
      this.dropVolume(e.volume);
      this.emit("volume.deleted", e);
    });
    onPool("chunks-written", (e) => this.chunksWritten(e.volume, e.chunks));
    onTarget("session-login", (s) => this.emit("session.login", s));
    onTarget("session-logout", (s) => this.emit("session.logout", s));
    onTarget("lun-changed", (t) => this.emit("lun.changed", t));
    this.ratesTimer = setInterval(() => this.sampleRates(), RATES_INTERVAL_MS);
    this.ratesTimer.unref();
  }

  stop(): void {
    for (const off of this.detach.splice(0)) off();
    clearInterval(this.ratesTimer);
    for (const volume of new Set([...this.deltas.keys(), ...this.rollbacks.keys()])) this.dropVolume(volume);
    this.sinks.clear();
  }

  subscribe(sink: EventSink): () => void {
    this.sinks.add(sink);
    return () => this.sinks.delete(sink);
  }

  private emit<E extends EventName>(name: E, payload: EventPayload<E>): void {
    // Checked against the protocol here so one bad payload cannot break every client's parser.
    const checked = events[name].safeParse(payload);
    if (!checked.success) {
      this.logger.error(
        { event: name, err: checked.error.message },
        "dropping an event that breaks the protocol",
      );
      return;
    }
    for (const sink of this.sinks) sink(name, checked.data as EventPayload<E>);
  }

  private chunksWritten(volume: string, chunks: readonly number[]): void {
    let pending = this.deltas.get(volume);
    if (!pending) {
      pending = { chunks: new Set(), timer: undefined, lastSent: 0 };
      this.deltas.set(volume, pending);
    }
    for (const chunk of chunks) pending.chunks.add(chunk);
    if (pending.timer || this.sinks.size === 0) {
      if (this.sinks.size === 0) pending.chunks.clear();
      return;
    }
    const wait = Math.max(0, pending.lastSent + DELTA_INTERVAL_MS - Date.now());
    pending.timer = setTimeout(() => this.flushDelta(volume), wait);
  }

  private flushDelta(volume: string): void {
    const pending = this.deltas.get(volume);
    if (!pending) return;
    pending.timer = undefined;
    pending.lastSent = Date.now();
    if (pending.chunks.size === 0) return;
    const runs = chunksToRuns(pending.chunks);
    pending.chunks.clear();
    let chunkSize: number;
    try {
      chunkSize = this.pool.getVolume(volume).info.chunkSize;
    } catch {
      return; // deleted meanwhile
    }
    this.emit("blockmap.delta", { volume, chunkSize, runs });
  }

  private rollbackProgress(progress: RollbackProgress): void {
    let state = this.rollbacks.get(progress.volume);
    if (!state) {
      state = { latest: undefined, timer: undefined, lastSent: 0 };
      this.rollbacks.set(progress.volume, state);
    }
    state.latest = progress;
    const final = progress.doneChunks >= progress.totalChunks;
    const wait = state.lastSent + DELTA_INTERVAL_MS - Date.now();
    if (final || wait <= 0) {
      clearTimeout(state.timer);
      state.timer = undefined;
      this.sendRollback(progress.volume);
    } else {
      state.timer ??= setTimeout(() => {
        if (state) state.timer = undefined;
        this.sendRollback(progress.volume);
      }, wait);
    }
  }

  private sendRollback(volume: string): void {
    const state = this.rollbacks.get(volume);
    if (!state?.latest) return;
    const progress = state.latest;
    state.latest = undefined;
    state.lastSent = Date.now();
    this.emit("rollback.progress", { ...progress, at: new Date(state.lastSent).toISOString() });
  }

  private dropVolume(volume: string): void {
    const rollback = this.rollbacks.get(volume);
    if (rollback?.timer) clearTimeout(rollback.timer);
    this.rollbacks.delete(volume);
    const pending = this.deltas.get(volume);
    if (pending?.timer) clearTimeout(pending.timer);
    this.deltas.delete(volume);
    this.lastStats.delete(volume);
  }

  private sampleRates(): void {
    const now = Date.now();
    let volumes: string[];
    try {
      volumes = this.pool.listVolumes().map((v) => v.name);
    } catch {
      return; // pool closing
    }
    for (const volume of volumes) {
      let stats: VolumeStats;
      try {
        stats = this.pool.getVolume(volume).stats();
      } catch {
        continue;
      }
      const previous = this.lastStats.get(volume);
      this.lastStats.set(volume, { at: now, stats: { ...stats } });
      if (!previous || this.sinks.size === 0) continue;
      const seconds = Math.max(0.001, (now - previous.at) / 1000);
      const rate = (a: number, b: number) => Math.max(0, a - b) / seconds;
      this.emit("volume.io", {
        volume,
        at: new Date(now).toISOString(),
        intervalMs: now - previous.at,
        readIops: rate(stats.reads, previous.stats.reads),
        writeIops: rate(stats.writes, previous.stats.writes),
        readBytesPerSec: rate(stats.bytesRead, previous.stats.bytesRead),
        writeBytesPerSec: rate(stats.bytesWritten, previous.stats.bytesWritten),
        cowCopiesPerSec: rate(stats.cowCopies, previous.stats.cowCopies),
      });
    }
  }
}
