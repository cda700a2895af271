// The daemon's LUN map: which volume or snapshot each target serves at which LUN, the SCSI ports
// behind them, and the TargetControl the management API drives. Auto-assigned volume LUNs and
// exposed snapshot LUNs are kept in <dataDir>/target-luns.json so they survive a restart.
import { EventEmitter } from "node:events";
import { closeSync, fsyncSync, openSync, readFileSync, renameSync, writeSync } from "node:fs";
import { join } from "node:path";
import { EngineError, type PoolHandle } from "@livesnap/engine";
import { createScsiTargetPort, type ScsiTarget } from "@livesnap/iscsi";
import type { Logger } from "pino";
import type { DaemonConfig, TargetConfig } from "../config/schema.js";
import { addSnapshotLun, addVolumeLun } from "../lun/index.js";
import type {
  LunInfo,
  PortalInfo,
  SessionInfo,
  TargetControl,
  TargetControlEvents,
  TargetInfo,
} from "../target-control.js";
import type { ServedTarget } from "./server.js";

type LunSource = LunInfo["source"];

interface LunEntry {
  target: string;
  lun: number;
  source: LunSource;
}

interface PersistedLuns {
  version: 1;
  luns: LunEntry[];
}

interface TargetRuntime {
  config: TargetConfig;
  scsi: ScsiTarget;
  luns: Map<number, LunEntry>;
}

export interface TargetRegistryOptions {
  pool: PoolHandle;
  config: DaemonConfig;
  dataDir: string;
  logger: Logger;
  portals: () => PortalInfo[];
  sessions: () => SessionInfo[];
  /** PREEMPT AND ABORT: abort the tasks of these nexuses on `lun` of `target` (the transport's job). */
  abortTasks?: (target: string, lun: number, nexusKeys: readonly string[]) => void;
}

const MAX_LUN = 16383;

export class TargetRegistry implements TargetControl {
  readonly events = new EventEmitter<TargetControlEvents>();
  private readonly targets = new Map<string, TargetRuntime>();
  private served: ServedTarget[] = [];
  private readonly stateFile: string;

  constructor(private readonly opts: TargetRegistryOptions) {
    this.stateFile = join(opts.dataDir, "target-luns.json");
    for (const t of opts.config.targets) {
      const scsi = createScsiTargetPort({
        onInternalError: (err, where) =>
          opts.logger.error(
            { err, target: t.iqn, lun: where.lun, opcode: where.opcode },
            "SCSI internal error",
          ),
        abortTasks: (lun, keys) => this.opts.abortTasks?.(t.iqn, lun, keys),
      });
      this.targets.set(t.iqn, { config: t, scsi, luns: new Map() });
    }
  }

  /** Build every LUN from the config, the saved state and the pool's volumes. */
  init(): void {
    const saved = this.loadState();
    for (const rt of this.targets.values()) {
      for (const l of rt.config.luns) {
        if (!this.volumeExists(l.volume)) {
          this.opts.logger.warn(
            { target: rt.config.iqn, lun: l.lun, volume: l.volume },
            "configured volume not in the pool",
          );
          continue;
        }
        this.attach(rt, { target: rt.config.iqn, lun: l.lun, source: { kind: "volume", volume: l.volume } });
      }
    }
    for (const entry of saved) {
      const rt = this.targets.get(entry.target);
      if (!rt || rt.luns.has(entry.lun)) continue;
      if (entry.source.kind === "volume" && (!rt.config.autoVolumes || this.lunOfVolume(entry.source.volume)))
        continue;
      try {
        this.attach(rt, entry);
      } catch (e) {
        this.opts.logger.warn({ entry, err: e }, "saved LUN no longer valid: dropped");
      }
    }
    for (const v of this.opts.pool.listVolumes()) this.ensureVolumeLun(v.name);
    this.saveState();
    this.rebuildServed();
  }

  /** What the iSCSI server logs initiators into. */
  servedTargets(): readonly ServedTarget[] {
    return this.served;
  }

  /** Name of the volume behind `lun` of `target` (a snapshot LUN names its volume), for metrics. */
  volumeOf(target: string, lun: number): string | undefined {
    return this.targets.get(target)?.luns.get(lun)?.source.volume;
  }

  private rebuildServed(): void {
    this.served = [...this.targets.values()].map((rt) => ({
      name: rt.config.iqn,
      port: rt.scsi,
      ...(rt.config.alias ? { alias: rt.config.alias } : {}),
      ...(rt.config.chap ? { chap: rt.config.chap } : {}),
      ...(rt.config.mutualChap ? { mutualChap: rt.config.mutualChap } : {}),
      ...(rt.config.allowedInitiators ? { allowedInitiators: rt.config.allowedInitiators } : {}),
    }));
  }

  private volumeExists(name: string): boolean {
    return this.opts.pool.listVolumes().some((v) => v.name === name);
  }

  private lunOfVolume(volume: string): LunEntry | undefined {
    for (const rt of this.targets.values()) {
      for (const e of rt.luns.values())
        if (e.source.kind === "volume" && e.source.volume === volume) return e;
    }
    return undefined;
  }

  private attach(rt: TargetRuntime, entry: LunEntry): void {
    const { pool, dataDir } = this.opts;
    const volume = pool.getVolume(entry.source.volume);
    if (entry.source.kind === "volume") addVolumeLun(rt.scsi, entry.lun, volume, dataDir);
    else
      addSnapshotLun(
        rt.scsi,
        entry.lun,
        entry.source.volume,
        volume.getSnapshot(entry.source.snapshot),
        dataDir,
      );
    rt.luns.set(entry.lun, entry);
  }

  private detach(rt: TargetRuntime, lun: number): void {
    if (rt.scsi.hasLun(lun)) rt.scsi.removeLun(lun);
    rt.luns.delete(lun);
  }

  /** Give a pool volume its LUN if it has none: its configured place, or the auto target. */
  private ensureVolumeLun(volume: string): LunEntry | undefined {
    const existing = this.lunOfVolume(volume);
    if (existing) return existing;
    for (const rt of this.targets.values()) {
      const mapped = rt.config.luns.find((l) => l.volume === volume);
      if (mapped && !rt.luns.has(mapped.lun)) {
        const entry: LunEntry = {
          target: rt.config.iqn,
          lun: mapped.lun,
          source: { kind: "volume", volume },
        };
        this.attach(rt, entry);
        return entry;
      }
    }
    const auto = [...this.targets.values()].find((rt) => rt.config.autoVolumes);
    if (!auto) return undefined;
    const entry: LunEntry = {
      target: auto.config.iqn,
      lun: this.freeLun(auto),
      source: { kind: "volume", volume },
    };
    this.attach(auto, entry);
    return entry;
  }

  private freeLun(rt: TargetRuntime): number {
    const reserved = new Set(rt.config.luns.map((l) => l.lun));
    for (let lun = 0; lun <= MAX_LUN; lun++) if (!rt.luns.has(lun) && !reserved.has(lun)) return lun;
    throw new EngineError("no-space", `target ${rt.config.iqn} has no free LUN`);
  }

  listTargets(): TargetInfo[] {
    const portals = this.opts.portals();
    return [...this.targets.values()].map((rt) => ({
      iqn: rt.config.iqn,
      portals,
      luns: [...rt.luns.values()].sort((a, b) => a.lun - b.lun).map((e) => this.lunInfo(e)),
    }));
  }

  private lunInfo(e: LunEntry): LunInfo {
    const p = this.opts.portals()[0];
    const host = p ? (p.host.includes(":") ? `[${p.host}]` : p.host) : "127.0.0.1";
    return {
      target: e.target,
      lun: e.lun,
      source: e.source,
      readOnly: e.source.kind === "snapshot",
      url: `iscsi://${host}:${p?.port ?? 3260}/${e.target}/${e.lun}`,
    };
  }

  listSessions(): SessionInfo[] {
    return this.opts.sessions();
  }

  async exposeSnapshot(volume: string, snapshot: string, lun?: number): Promise<LunInfo> {
    const home = this.lunOfVolume(volume);
    const rt = home
      ? this.targets.get(home.target)
      : [...this.targets.values()].find((t) => t.config.autoVolumes);
    if (!rt) throw new EngineError("not-found", `volume ${volume} is not served by any target`);
    for (const e of rt.luns.values()) {
      if (e.source.kind === "snapshot" && e.source.volume === volume && e.source.snapshot === snapshot) {
        if (lun === undefined || lun === e.lun) return this.lunInfo(e);
        throw new EngineError("already-exists", `snapshot ${volume}@${snapshot} is already LUN ${e.lun}`);
      }
    }
    if (lun !== undefined) {
      if (!Number.isInteger(lun) || lun < 0 || lun > MAX_LUN)
        throw new EngineError("invalid-argument", `LUN ${lun} out of range`);
      if (rt.luns.has(lun) || rt.config.luns.some((l) => l.lun === lun)) {
        throw new EngineError("already-exists", `LUN ${lun} of ${rt.config.iqn} is in use`);
      }
    }
    const entry: LunEntry = {
      target: rt.config.iqn,
      lun: lun ?? this.freeLun(rt),
      source: { kind: "snapshot", volume, snapshot },
    };
    this.attach(rt, entry);
    this.changed(rt);
    this.opts.logger.info({ target: entry.target, lun: entry.lun, volume, snapshot }, "snapshot exposed");
    return this.lunInfo(entry);
  }

  async withdrawLun(target: string, lun: number): Promise<void> {
    const rt = this.targets.get(target);
    const entry = rt?.luns.get(lun);
    if (!rt || !entry) throw new EngineError("not-found", `no LUN ${lun} on ${target}`);
    if (entry.source.kind === "volume" && this.volumeExists(entry.source.volume)) {
      throw new EngineError(
        "invalid-argument",
        `LUN ${lun} serves volume ${entry.source.volume}; delete the volume instead`,
      );
    }
    this.detach(rt, lun);
    this.changed(rt);
    this.opts.logger.info({ target, lun }, "LUN withdrawn");
  }

  async volumeChanged(volume: string): Promise<void> {
    if (this.volumeExists(volume)) {
      const entry = this.lunOfVolume(volume);
      if (entry) {
        this.targets.get(entry.target)?.scsi.capacityChanged(entry.lun);
        this.emitChanged(entry.target);
        return;
      }
      const added = this.ensureVolumeLun(volume);
      if (added) {
        this.saveState();
        this.emitChanged(added.target);
      }
      return;
    }
    // Gone: its own LUN and every snapshot LUN of it.
    for (const rt of this.targets.values()) {
      let touched = false;
      for (const e of [...rt.luns.values()]) {
        if (e.source.volume === volume) {
          this.detach(rt, e.lun);
          touched = true;
        }
      }
      if (touched) this.changed(rt);
    }
  }

  /** A snapshot was deleted (pool event): its LUNs go too. */
  snapshotDeleted(volume: string, snapshot: string): void {
    for (const rt of this.targets.values()) {
      let touched = false;
      for (const e of [...rt.luns.values()]) {
        if (e.source.kind === "snapshot" && e.source.volume === volume && e.source.snapshot === snapshot) {
          this.detach(rt, e.lun);
          touched = true;
        }
      }
      if (touched) this.changed(rt);
    }
  }

  private changed(rt: TargetRuntime): void {
    this.saveState();
    this.emitChanged(rt.config.iqn);
  }

  private emitChanged(target: string): void {
    const info = this.listTargets().find((t) => t.iqn === target);
    if (info) this.events.emit("lun-changed", info);
  }

  private loadState(): LunEntry[] {
    let text: string;
    try {
      text = readFileSync(this.stateFile, "utf8");
    } catch {
      return [];
    }
    try {
      const parsed = JSON.parse(text) as PersistedLuns;
      if (parsed.version !== 1 || !Array.isArray(parsed.luns)) throw new Error("unknown format");
      return parsed.luns.filter(
        (e) =>
          typeof e.target === "string" && Number.isInteger(e.lun) && typeof e.source?.volume === "string",
      );
    } catch (e) {
      this.opts.logger.error(
        { file: this.stateFile, err: e },
        "LUN state unreadable: starting from the config",
      );
      return [];
    }
  }

  /** Config LUNs are not saved: the config is their source of truth. Written atomically. */
  private saveState(): void {
    const luns: LunEntry[] = [];
    for (const rt of this.targets.values()) {
      for (const e of rt.luns.values()) {
        const fromConfig = e.source.kind === "volume" && rt.config.luns.some((l) => l.lun === e.lun);
        if (!fromConfig) luns.push(e);
      }
    }
    const body: PersistedLuns = { version: 1, luns };
    const tmp = `${this.stateFile}.tmp`;
    const fd = openSync(tmp, "w", 0o644);
    try {
      writeSync(fd, `${JSON.stringify(body, null, 2)}\n`);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, this.stateFile);
  }
}
