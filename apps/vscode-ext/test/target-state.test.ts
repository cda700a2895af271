import { events } from "@livesnap/protocol";
import { describe, expect, it } from "vitest";
import { applyEvent, lunOfSnapshot, lunOfVolume } from "../src/connection/target-state.js";
import { iqn, sampleState, session1, snap, target0, vol0 } from "./fixtures.js";

describe("target state: applying server events", () => {
  it("snapshot.created appends (ordered by seq) and bumps the count; a repeat does not duplicate", () => {
    const s = sampleState();
    const payload = events["snapshot.created"].parse({ volume: "vol0", snapshot: snap("s3", 30) });
    expect(applyEvent(s, "snapshot.created", payload)).toEqual({ kind: "volume", volume: "vol0" });
    applyEvent(s, "snapshot.created", payload);
    expect(s.snapshots.get("vol0")!.map((x) => x.name)).toEqual(["s1", "s2", "s3"]);
    expect(s.volumes.find((v) => v.name === "vol0")!.snapshotCount).toBe(3);
  });

  it("snapshot.deleted removes; unknown volume changes nothing", () => {
    const s = sampleState();
    applyEvent(s, "snapshot.deleted", { volume: "vol0", snapshot: "s1" });
    expect(s.snapshots.get("vol0")!.map((x) => x.name)).toEqual(["s2"]);
    expect(applyEvent(s, "snapshot.deleted", { volume: "nope", snapshot: "s1" })).toEqual({ kind: "none" });
  });

  it("snapshot.invalidated marks the snapshot with its reason", () => {
    const s = sampleState();
    applyEvent(s, "snapshot.invalidated", { volume: "vol0", snapshot: "s2", reason: "COW store full" });
    expect(s.snapshots.get("vol0")![1]).toMatchObject({ valid: false, invalidReason: "COW store full" });
  });

  it("volume events add, resize and delete volumes", () => {
    const s = sampleState();
    applyEvent(s, "volume.created", { volume: { ...vol0, name: "aaa", snapshotCount: 0 } });
    expect(s.volumes.map((v) => v.name)).toEqual(["aaa", "vol0", "vol1"]);
    expect(s.snapshots.get("aaa")).toEqual([]);
    applyEvent(s, "volume.resized", { volume: { ...vol0, sizeBytes: 2 * vol0.sizeBytes } });
    expect(s.volumes.find((v) => v.name === "vol0")!.sizeBytes).toBe(2 * vol0.sizeBytes);
    expect(applyEvent(s, "volume.deleted", { volume: "vol0" })).toEqual({ kind: "all" });
    expect(s.snapshots.has("vol0")).toBe(false);
  });

  it("lun.changed replaces the target; sessions come and go", () => {
    const s = sampleState();
    applyEvent(s, "lun.changed", { ...target0, luns: target0.luns.slice(0, 1) });
    expect(lunOfSnapshot(s, "vol0", "s1")).toBeUndefined();
    expect(lunOfVolume(s, "vol0")?.lun).toBe(0);
    applyEvent(s, "session.logout", { id: 1, target: iqn, initiator: session1.initiator, reason: "logout" });
    expect(s.sessions).toEqual([]);
    expect(applyEvent(s, "session.logout", { id: 1, target: iqn, initiator: "x", reason: "r" })).toEqual({
      kind: "none",
    });
    applyEvent(s, "session.login", session1);
    expect(s.sessions.map((x) => x.id)).toEqual([1]);
  });

  it("stream events (deltas, io rates) do not touch the tree state", () => {
    const s = sampleState();
    expect(applyEvent(s, "blockmap.delta", { volume: "vol0", chunkSize: 65536, runs: [[0, 1]] })).toEqual({
      kind: "none",
    });
  });
});
