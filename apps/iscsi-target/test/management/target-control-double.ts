// A hand-written TargetControl for management tests: the iSCSI side only (the engine is always real).
// It keeps LUNs in memory and records what the management server asked of it.
import { EventEmitter } from "node:events";
import type { PoolHandle } from "@livesnap/engine";
import type {
  LunInfo,
  SessionInfo,
  TargetControl,
  TargetControlEvents,
  TargetInfo,
} from "../../src/target-control.js";

export class TargetControlDouble implements TargetControl {
  readonly events = new EventEmitter<TargetControlEvents>();
  readonly calls: string[] = [];
  readonly sessions: SessionInfo[] = [];
  private readonly snapshotLuns: LunInfo[] = [];

  constructor(private readonly pool: PoolHandle) {}

  private iqn(volume: string) {
    return `iqn.2026-11.io.livesnap:${volume}`;
  }

  listTargets(): TargetInfo[] {
    return this.pool.listVolumes().map((v) => {
      const iqn = this.iqn(v.name);
      const own: LunInfo = {
        target: iqn,
        lun: 0,
        source: { kind: "volume", volume: v.name },
        readOnly: false,
        url: `iscsi://127.0.0.1:3260/${iqn}/0`,
      };
      return {
        iqn,
        portals: [{ host: "127.0.0.1", port: 3260 }],
        luns: [own, ...this.snapshotLuns.filter((l) => l.target === iqn)],
      };
    });
  }

  listSessions(): SessionInfo[] {
    return [...this.sessions];
  }

  async exposeSnapshot(volume: string, snapshot: string, lun?: number): Promise<LunInfo> {
    this.calls.push(`expose ${volume}@${snapshot}`);
    const target = this.iqn(volume);
    const used = new Set([0, ...this.snapshotLuns.filter((l) => l.target === target).map((l) => l.lun)]);
    let number = lun ?? 1;
    while (lun === undefined && used.has(number)) number++;
    const info: LunInfo = {
      target,
      lun: number,
      source: { kind: "snapshot", volume, snapshot },
      readOnly: true,
      url: `iscsi://127.0.0.1:3260/${target}/${number}`,
    };
    this.snapshotLuns.push(info);
    return info;
  }

  async withdrawLun(target: string, lun: number): Promise<void> {
    this.calls.push(`withdraw ${target}/${lun}`);
    const index = this.snapshotLuns.findIndex((l) => l.target === target && l.lun === lun);
    if (index < 0) throw Object.assign(new Error(`no LUN ${lun} on ${target}`), { code: "not-found" });
    this.snapshotLuns.splice(index, 1);
  }

  async volumeChanged(volume: string): Promise<void> {
    this.calls.push(`volumeChanged ${volume}`);
  }

  login(session: SessionInfo): void {
    this.sessions.push(session);
    this.events.emit("session-login", session);
  }
}
