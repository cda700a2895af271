// Protocol-shaped sample data, validated by the protocol's own schemas so the fixtures cannot drift.
import { Session, Snapshot, Target, Volume } from "@livesnap/protocol";
import { emptyTargetState, type TargetState } from "../src/connection/target-state.js";

export const vol0 = Volume.parse({
  name: "vol0",
  id: "7f0c2a8e-0000-4000-8000-000000000001",
  sizeBytes: 1024 ** 3,
  blockSize: 512,
  chunkSize: 65536,
  createdAt: "2026-11-24T23:00:00.000Z",
  snapshotCount: 2,
  allocatedBytes: 64 * 1024 ** 2,
});
export const vol1 = Volume.parse({
  ...vol0,
  name: "vol1",
  id: "7f0c2a8e-0000-4000-8000-000000000002",
  snapshotCount: 0,
});

export function snap(name: string, seq: number, extra: Partial<Snapshot> = {}): Snapshot {
  return Snapshot.parse({
    name,
    id: `id-${name}`,
    volume: "vol0",
    createdAt: "2026-11-24T23:10:00.000Z",
    seq,
    preservedChunks: 3,
    preservedBytes: 3 * 65536,
    valid: true,
    ...extra,
  });
}

export const iqn = "iqn.2026-11.dev.livesnap:target0";
export const target0 = Target.parse({
  iqn,
  portals: [{ host: "127.0.0.1", port: 3260 }],
  luns: [
    {
      target: iqn,
      lun: 0,
      source: { kind: "volume", volume: "vol0" },
      readOnly: false,
      url: `iscsi://127.0.0.1:3260/${iqn}/0`,
    },
    {
      target: iqn,
      lun: 1,
      source: { kind: "snapshot", volume: "vol0", snapshot: "s1" },
      readOnly: true,
      url: `iscsi://127.0.0.1:3260/${iqn}/1`,
    },
  ],
});

export const session1 = Session.parse({
  id: 1,
  target: iqn,
  initiator: "iqn.1994-05.com.redhat:client",
  isid: "400001370000",
  remoteAddress: "127.0.0.1:40000",
  connections: 1,
  loggedInAt: "2026-11-24T23:20:00.000Z",
  headerDigest: "None",
  dataDigest: "None",
});

export function sampleState(): TargetState {
  const state = emptyTargetState("0.1.0");
  state.volumes = [vol0, vol1].map((v) => ({ ...v }));
  state.snapshots.set("vol0", [snap("s1", 10), snap("s2", 20)]);
  state.snapshots.set("vol1", []);
  state.iscsiTargets = [structuredClone(target0)];
  state.sessions = [session1];
  return state;
}
