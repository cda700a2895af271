// The seam between the management API (src/management) and the iSCSI side of the daemon (src/iscsi,
// src/lun). The daemon implements it; the management server only calls it.
import type { EventEmitter } from "node:events";

export interface PortalInfo {
  host: string;
  port: number;
}

export interface LunInfo {
  target: string;
  lun: number;
  /** What backs the LUN. */
  source: { kind: "volume"; volume: string } | { kind: "snapshot"; volume: string; snapshot: string };
  readOnly: boolean;
  /** iscsi://host:port/iqn/lun for the first portal. */
  url: string;
}

export interface TargetInfo {
  iqn: string;
  portals: PortalInfo[];
  luns: LunInfo[];
}

export interface SessionInfo {
  /** TSIH, unique while the session lives. */
  id: number;
  target: string;
  initiator: string;
  isid: string;
  remoteAddress: string;
  connections: number;
  loggedInAt: string;
  headerDigest: string;
  dataDigest: string;
}

export interface TargetControlEvents {
  "session-login": [SessionInfo];
  "session-logout": [{ id: number; target: string; initiator: string; reason: string }];
  "lun-changed": [TargetInfo];
}

export interface TargetControl {
  readonly events: EventEmitter<TargetControlEvents>;
  listTargets(): TargetInfo[];
  listSessions(): SessionInfo[];
  /** Expose a snapshot as a read-only LUN (next free LUN number unless given) of the volume's target. */
  exposeSnapshot(volume: string, snapshot: string, lun?: number): Promise<LunInfo>;
  /** Withdraw a LUN (sessions see REPORTED LUNS DATA HAS CHANGED). Volumes' own LUNs cannot be withdrawn. */
  withdrawLun(target: string, lun: number): Promise<void>;
  /** A volume was created/resized/deleted through the API: add/refresh/remove its LUN. */
  volumeChanged(volume: string): Promise<void>;
}
