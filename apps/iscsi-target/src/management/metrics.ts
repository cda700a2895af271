// Prometheus metrics, read from the engine and the iSCSI side at scrape time (no bookkeeping on the
// I/O path). Counters mirror the engine's cumulative per-volume counters.

import { inlineIoStats, type PoolHandle, type VolumeInfo, type VolumeStats } from "@livesnap/engine";
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from "prom-client";
import { busyPollStats } from "../iscsi/receive-poll.js";
import type { TargetControl } from "../target-control.js";
import { CommandLatencyHistogram } from "./command-latency.js";

const VOLUME_COUNTERS: [keyof VolumeStats, string, string][] = [
  ["reads", "livesnap_volume_reads_total", "Read commands completed"],
  ["writes", "livesnap_volume_writes_total", "Write commands completed"],
  ["bytesRead", "livesnap_volume_read_bytes_total", "Bytes read"],
  ["bytesWritten", "livesnap_volume_written_bytes_total", "Bytes written"],
  ["cowCopies", "livesnap_volume_cow_copies_total", "Chunks copied into a snapshot before being overwritten"],
  ["cowBytes", "livesnap_volume_cow_bytes_total", "Bytes copied into snapshots"],
  ["unmaps", "livesnap_volume_unmaps_total", "UNMAP / WRITE SAME with unmap commands completed"],
  ["flushes", "livesnap_volume_flushes_total", "SYNCHRONIZE CACHE / FUA flushes completed"],
  [
    "writeBackErrors",
    "livesnap_volume_write_back_errors_total",
    "Acknowledged writes whose background completion failed (reported at the next flush)",
  ],
];

export type CommandKind = "read" | "write" | "unmap" | "flush" | "other";

export interface ManagementMetrics {
  registry: Registry;
  /** Times one SCSI command from PDU to response (the iSCSI side calls it). */
  observeCommand(volume: string, kind: CommandKind, seconds: number): void;
  /** The /metrics text: the registry's metrics, then the command latency histogram. */
  text(): Promise<string>;
  /** Times one management API call. */
  observeCall(method: string, outcome: "ok" | "error", seconds: number): void;
  sessionLogin(): void;
}

export function createMetrics(pool: PoolHandle, control: TargetControl): ManagementMetrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: "livesnap_" });

  // One engine read per scrape, shared by every collector of that scrape.
  let cache: { at: number; volumes: { info: VolumeInfo; stats: VolumeStats }[] } | undefined;
  const volumes = () => {
    const now = Date.now();
    if (!cache || now - cache.at > 50) {
      const list: { info: VolumeInfo; stats: VolumeStats }[] = [];
      for (const info of safeList(pool)) {
        try {
          list.push({ info, stats: pool.getVolume(info.name).stats() });
        } catch {
          // deleted between list and get
        }
      }
      cache = { at: now, volumes: list };
    }
    return cache.volumes;
  };

  for (const [field, name, help] of VOLUME_COUNTERS) {
    new Counter({
      name,
      help,
      labelNames: ["volume"],
      registers: [registry],
      collect() {
        this.reset();
        for (const v of volumes()) this.inc({ volume: v.info.name }, v.stats[field]);
      },
    });
  }

  const gauge = (name: string, help: string, read: (v: { info: VolumeInfo }) => number) =>
    new Gauge({
      name,
      help,
      labelNames: ["volume"],
      registers: [registry],
      collect() {
        this.reset();
        for (const v of volumes()) this.set({ volume: v.info.name }, read(v));
      },
    });
  gauge("livesnap_volume_size_bytes", "Volume size", (v) => v.info.sizeBytes);
  gauge("livesnap_volume_allocated_bytes", "Origin bytes holding data", (v) => v.info.allocatedBytes);
  gauge("livesnap_volume_snapshots", "Snapshots of the volume", (v) => v.info.snapshotCount);

  new Gauge({
    name: "livesnap_snapshot_preserved_bytes",
    help: "Bytes held in a snapshot's own image",
    labelNames: ["volume", "snapshot"],
    registers: [registry],
    collect() {
      this.reset();
      for (const v of volumes()) {
        for (const s of pool.getVolume(v.info.name).listSnapshots()) {
          this.set({ volume: v.info.name, snapshot: s.name }, s.preservedBytes);
        }
      }
    },
  });
  new Gauge({
    name: "livesnap_iscsi_sessions",
    help: "iSCSI sessions logged in",
    registers: [registry],
    collect() {
      this.set(control.listSessions().length);
    },
  });
  new Gauge({
    name: "livesnap_iscsi_luns",
    help: "LUNs exported",
    registers: [registry],
    collect() {
      this.set(control.listTargets().reduce((n, t) => n + t.luns.length, 0));
    },
  });
  // The engine's file I/O policy (inline on the event loop vs the thread pool): pauses mean the
  // page cache stopped serving (cache misses, dirty throttling) or the process lost its CPU.
  processCounters(registry, inlineIoStats, [
    ["inline", "livesnap_engine_inline_io_total", "Engine reads/writes run inline on the event loop"],
    ["slow", "livesnap_engine_inline_io_slow_total", "Inline reads/writes slower than a page-cache copy"],
    [
      "pauses",
      "livesnap_engine_inline_io_pauses_total",
      "Times inline I/O paused and I/O went to the thread pool",
    ],
  ]);
  // QD 1 receive busy-poll (receive-poll.ts): misses are spins that ran out of budget (CPU spent
  // for nothing); many misses and few hits say the initiator's gaps are too long for it.
  processCounters(registry, busyPollStats, [
    ["spins", "livesnap_iscsi_busy_poll_spins_total", "Busy-polls of a connection's socket after a response"],
    ["hits", "livesnap_iscsi_busy_poll_hits_total", "Busy-polls that found the next request"],
    ["misses", "livesnap_iscsi_busy_poll_misses_total", "Busy-polls that ran out of budget"],
  ]);
  const logins = new Counter({
    name: "livesnap_iscsi_logins_total",
    help: "iSCSI session logins since start",
    registers: [registry],
  });
  const calls = new Histogram({
    name: "livesnap_api_call_duration_seconds",
    help: "Management API call latency",
    labelNames: ["method", "outcome"],
    buckets: [0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 30],
    registers: [registry],
  });

  const commands = new CommandLatencyHistogram(
    "livesnap_scsi_command_duration_seconds",
    "SCSI command latency, command PDU received to response sent",
    [0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5, 1],
  );

  return {
    registry,
    observeCommand: (volume, kind, seconds) => commands.observe(volume, kind, seconds),
    text: async () => `${await registry.metrics()}${commands.render()}`,
    observeCall: (method, outcome, seconds) => calls.observe({ method, outcome }, seconds),
    sessionLogin: () => logins.inc(),
  };
}

function safeList(pool: PoolHandle): VolumeInfo[] {
  try {
    return pool.listVolumes();
  } catch {
    return [];
  }
}

/** Counters that mirror process-wide totals kept elsewhere, read at each scrape. */
function processCounters<K extends string>(
  registry: Registry,
  stats: () => Record<K, number>,
  table: readonly (readonly [key: K, name: string, help: string])[],
): void {
  for (const [key, name, help] of table) {
    new Counter({
      name,
      help,
      registers: [registry],
      collect() {
        this.reset();
        this.inc(stats()[key]);
      },
    });
  }
}
