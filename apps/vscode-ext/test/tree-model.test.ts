import { describe, expect, it } from "vitest";
import { emptyTargetState } from "../src/connection/target-state.js";
import { type ConnectionView, childrenOf, type TreeNode } from "../src/tree/tree-model.js";
import { sampleState } from "./fixtures.js";

function labels(nodes: TreeNode[]): string[] {
  return nodes.map((n) => n.label);
}

const connected: ConnectionView = {
  name: "lab",
  url: "ws://127.0.0.1:7260",
  status: { kind: "connected" },
  state: sampleState(),
};

describe("targets tree", () => {
  it("targets -> volumes (+ iSCSI targets, sessions) -> snapshots, newest first", () => {
    const [root] = childrenOf([connected], undefined);
    expect(root).toMatchObject({ label: "lab", contextValue: "connection.connected", icon: "vm-active" });
    const level1 = childrenOf([connected], root);
    expect(labels(level1)).toEqual(["vol0", "vol1", "iSCSI targets", "Sessions"]);
    expect(level1[0]!.description).toBe("1 GiB · 2 snapshots · LUN 0");
    expect(level1[1]!.collapsible).toBe("expanded"); // no snapshots yet, but the first must show
    expect(childrenOf([connected], level1[1])).toEqual([]);
    const snaps = childrenOf([connected], level1[0]);
    expect(labels(snaps)).toEqual(["s2", "s1"]);
    expect(snaps[1]).toMatchObject({ contextValue: "snapshot.valid.exposed", icon: "export" });
    expect(snaps[1]!.description).toContain("LUN 1");
    expect(snaps[0]!.ref).toEqual({ kind: "snapshot", connection: "lab", volume: "vol0", snapshot: "s2" });
  });

  it("iSCSI targets list their LUNs; sessions list initiators", () => {
    const level1 = childrenOf([connected], childrenOf([connected], undefined)[0]);
    const targets = childrenOf([connected], level1[2]);
    expect(targets[0]).toMatchObject({ contextValue: "iscsiTarget", description: "127.0.0.1:3260" });
    const luns = childrenOf([connected], targets[0]);
    expect(luns.map((l) => [l.label, l.contextValue, l.description])).toEqual([
      ["LUN 0", "lun.volume", "vol0"],
      ["LUN 1", "lun.snapshot", "vol0@s1 · read-only"],
    ]);
    const sessions = childrenOf([connected], level1[3]);
    expect(sessions[0]).toMatchObject({ label: "iqn.1994-05.com.redhat:client", contextValue: "session" });
  });

  it("an invalid snapshot is flagged in its icon, menu context and description", () => {
    const state = sampleState();
    state.snapshots.get("vol0")![0] = {
      ...state.snapshots.get("vol0")![0]!,
      valid: false,
      invalidReason: "full",
    };
    const view = { ...connected, state };
    const vol0 = childrenOf([view], childrenOf([view], undefined)[0])[0];
    const s1 = childrenOf([view], vol0).find((n) => n.label === "s1")!;
    expect(s1).toMatchObject({ icon: "warning", contextValue: "snapshot.invalid.exposed" });
    expect(s1.description).toContain("INVALID");
    expect(s1.tooltip).toContain("full");
  });

  it("a failed connection shows the error and a retry item instead of volumes", () => {
    const view: ConnectionView = {
      name: "local",
      url: "ws://127.0.0.1:7260",
      status: { kind: "error", message: "connect ECONNREFUSED 127.0.0.1:7260", retryAt: 1 },
      state: emptyTargetState(),
    };
    const [root] = childrenOf([view], undefined);
    expect(root).toMatchObject({ icon: "error", contextValue: "connection.error" });
    expect(root!.description).toContain("error, retrying");
    const kids = childrenOf([view], root);
    expect(kids).toHaveLength(1);
    expect(kids[0]!.label).toBe("Cannot connect: connect ECONNREFUSED 127.0.0.1:7260");
    expect(kids[0]!.command?.command).toBe("livesnap.connect");
  });

  it("no token: offers to set one", () => {
    const view: ConnectionView = {
      name: "x",
      url: "ws://h:1",
      status: { kind: "no-token" },
      state: emptyTargetState(),
    };
    const kids = childrenOf([view], childrenOf([view], undefined)[0]);
    expect(kids[0]!.command?.command).toBe("livesnap.setToken");
  });

  it("node ids are unique and stable across rebuilds", () => {
    const all: string[] = [];
    const walk = (n: TreeNode | undefined) => {
      for (const c of childrenOf([connected], n)) {
        all.push(c.id);
        walk(c);
      }
    };
    walk(undefined);
    expect(new Set(all).size).toBe(all.length);
    const again: string[] = [];
    const walk2 = (n: TreeNode | undefined) => {
      for (const c of childrenOf([{ ...connected, state: sampleState() }], n)) {
        again.push(c.id);
        walk2(c);
      }
    };
    walk2(undefined);
    expect(again).toEqual(all);
  });
});
