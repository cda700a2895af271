// The Targets tree as plain data: connection -> volumes -> snapshots, plus the iSCSI side (LUNs,
// sessions). Built from a connection's status and TargetState; the TreeDataProvider only maps these
// nodes to vscode.TreeItems. Pure and unit-tested.
import type { Lun, Session, Snapshot, Target, Volume } from "@livesnap/protocol";
import {
  type ConnectionStatus,
  lunOfSnapshot,
  lunOfVolume,
  type TargetState,
} from "../connection/target-state.js";
import { formatBytes } from "../format.js";

/** What a node stands for: commands receive this (via the node) as their argument. */
export type NodeRef =
  | { kind: "connection"; connection: string }
  | { kind: "message"; connection: string }
  | { kind: "volume"; connection: string; volume: string }
  | { kind: "snapshot"; connection: string; volume: string; snapshot: string }
  | { kind: "group"; connection: string; group: "luns" | "sessions" }
  | { kind: "iscsiTarget"; connection: string; iqn: string }
  | { kind: "lun"; connection: string; iqn: string; lun: number; url: string }
  | { kind: "session"; connection: string; id: number; initiator: string; iqn: string };

export interface TreeNode {
  /** Stable across refreshes so VS Code keeps expansion and selection. */
  id: string;
  ref: NodeRef;
  label: string;
  description?: string;
  tooltip?: string;
  /** Codicon id. */
  icon: string;
  /** Theme colour id for the icon, e.g. "errorForeground". */
  iconColor?: string;
  /** Drives context menus (package.json `viewItem` clauses). */
  contextValue: string;
  collapsible: "none" | "collapsed" | "expanded";
  /** Command run on click. */
  command?: { command: string; title: string };
}

export interface ConnectionView {
  name: string;
  url: string;
  status: ConnectionStatus;
  state: TargetState;
}

function statusText(status: ConnectionStatus): string {
  switch (status.kind) {
    case "connected":
      return "connected";
    case "connecting":
      return status.attempt > 1 ? `connecting (attempt ${status.attempt})…` : "connecting…";
    case "disconnected":
      return "disconnected";
    case "no-token":
      return "no token";
    case "error":
      // No countdown: the tree is not re-rendered every second, a stale number would mislead.
      return status.retryAt ? "error, retrying" : "error";
  }
}

export function connectionNode(view: ConnectionView): TreeNode {
  const s = view.status;
  const icon =
    s.kind === "connected"
      ? "vm-active"
      : s.kind === "connecting"
        ? "loading~spin"
        : s.kind === "error"
          ? "error"
          : "vm-outline";
  const contextKind = s.kind === "no-token" ? "disconnected" : s.kind;
  return {
    id: `c/${view.name}`,
    ref: { kind: "connection", connection: view.name },
    label: view.name,
    description: `${view.url} · ${statusText(s)}`,
    tooltip: [
      `${view.name} — ${view.url}`,
      view.state.serverVersion && s.kind === "connected" ? `livesnap ${view.state.serverVersion}` : "",
      s.kind === "error" ? s.message : "",
    ]
      .filter(Boolean)
      .join("\n"),
    icon,
    iconColor:
      s.kind === "error" ? "errorForeground" : s.kind === "connected" ? "testing.iconPassed" : undefined,
    contextValue: `connection.${contextKind}`,
    collapsible: "expanded",
  };
}

export function connectionChildren(view: ConnectionView): TreeNode[] {
  const c = view.name;
  const s = view.status;
  if (s.kind !== "connected") {
    const message =
      s.kind === "error"
        ? {
            label: `Cannot connect: ${s.message}`,
            icon: "warning",
            command: "livesnap.connect",
            title: "Retry",
          }
        : s.kind === "no-token"
          ? {
              label: "No token: set one to connect",
              icon: "key",
              command: "livesnap.setToken",
              title: "Set Token",
            }
          : s.kind === "connecting"
            ? { label: "Connecting…", icon: "loading~spin", command: undefined, title: "" }
            : {
                label: "Not connected: click to connect",
                icon: "plug",
                command: "livesnap.connect",
                title: "Connect",
              };
    return [
      {
        id: `c/${c}/message`,
        ref: { kind: "message", connection: c },
        label: message.label,
        icon: message.icon,
        tooltip: message.label,
        contextValue: "message",
        collapsible: "none",
        ...(message.command ? { command: { command: message.command, title: message.title } } : {}),
      },
    ];
  }
  const nodes = view.state.volumes.map((v) => volumeNode(view, v));
  if (nodes.length === 0) {
    nodes.push({
      id: `c/${c}/empty`,
      ref: { kind: "message", connection: c },
      label: "No volumes",
      icon: "info",
      contextValue: "message",
      collapsible: "none",
    });
  }
  const lunCount = view.state.iscsiTargets.reduce((n, t) => n + t.luns.length, 0);
  nodes.push({
    id: `c/${c}/luns`,
    ref: { kind: "group", connection: c, group: "luns" },
    label: "iSCSI targets",
    description: `${view.state.iscsiTargets.length} · ${lunCount} LUN${lunCount === 1 ? "" : "s"}`,
    icon: "server",
    contextValue: "group.luns",
    collapsible: "collapsed",
  });
  nodes.push({
    id: `c/${c}/sessions`,
    ref: { kind: "group", connection: c, group: "sessions" },
    label: "Sessions",
    description: String(view.state.sessions.length),
    icon: "remote",
    contextValue: "group.sessions",
    collapsible: "collapsed",
  });
  return nodes;
}

export function volumeNode(view: ConnectionView, v: Volume): TreeNode {
  const lun = lunOfVolume(view.state, v.name);
  const snaps = view.state.snapshots.get(v.name)?.length ?? v.snapshotCount;
  return {
    id: `c/${view.name}/v/${v.name}`,
    ref: { kind: "volume", connection: view.name, volume: v.name },
    label: v.name,
    description: `${formatBytes(v.sizeBytes)} · ${snaps} snapshot${snaps === 1 ? "" : "s"}${lun ? ` · LUN ${lun.lun}` : ""}`,
    tooltip: [
      `Volume ${v.name} (${v.id})`,
      `Size ${formatBytes(v.sizeBytes)}, ${v.blockSize}-byte blocks, ${formatBytes(v.chunkSize)} chunks`,
      `Allocated ${formatBytes(v.allocatedBytes)}`,
      lun ? `Served as ${lun.url}` : "Not exposed",
    ].join("\n"),
    icon: "database",
    contextValue: "volume",
    // Always expandable: VS Code keeps an id's first collapsible state, so a volume first shown
    // without snapshots ("none") would hide its first snapshot behind a collapsed twistie.
    collapsible: "expanded",
  };
}

export function volumeChildren(view: ConnectionView, volume: string): TreeNode[] {
  const snaps = view.state.snapshots.get(volume) ?? [];
  // Newest first: the one just taken is what the user looks for.
  return [...snaps].reverse().map((s) => snapshotNode(view, volume, s));
}

export function snapshotNode(view: ConnectionView, volume: string, s: Snapshot): TreeNode {
  const lun = lunOfSnapshot(view.state, volume, s.name);
  const parts = [`${formatBytes(s.preservedBytes)} preserved`];
  if (lun) parts.push(`LUN ${lun.lun}`);
  if (s.group) parts.push("group");
  if (!s.valid) parts.push("INVALID");
  return {
    id: `c/${view.name}/v/${volume}/s/${s.name}`,
    ref: { kind: "snapshot", connection: view.name, volume, snapshot: s.name },
    label: s.name,
    description: parts.join(" · "),
    tooltip: [
      `Snapshot ${s.name} of ${volume} (${s.id})`,
      `Taken ${s.createdAt} (seq ${s.seq})`,
      `${s.preservedChunks} chunks preserved (${formatBytes(s.preservedBytes)})`,
      s.group ? `Consistency group ${s.group}` : "",
      lun ? `Exposed read-only as ${lun.url}` : "",
      s.valid ? "" : `Invalid: ${s.invalidReason ?? "unknown reason"}`,
    ]
      .filter(Boolean)
      .join("\n"),
    icon: s.valid ? (lun ? "export" : "device-camera") : "warning",
    iconColor: s.valid ? undefined : "errorForeground",
    contextValue: `snapshot.${s.valid ? "valid" : "invalid"}${lun ? ".exposed" : ""}`,
    collapsible: "none",
  };
}

export function groupChildren(view: ConnectionView, group: "luns" | "sessions"): TreeNode[] {
  if (group === "sessions") return view.state.sessions.map((s) => sessionNode(view.name, s));
  return view.state.iscsiTargets.map((t) => iscsiTargetNode(view.name, t));
}

export function iscsiTargetNode(connection: string, t: Target): TreeNode {
  return {
    id: `c/${connection}/t/${t.iqn}`,
    ref: { kind: "iscsiTarget", connection, iqn: t.iqn },
    label: t.iqn,
    description: t.portals.map((p) => `${p.host}:${p.port}`).join(", "),
    tooltip: `iSCSI target ${t.iqn}\nPortals: ${t.portals.map((p) => `${p.host}:${p.port}`).join(", ") || "none"}`,
    icon: "server-environment",
    contextValue: "iscsiTarget",
    collapsible: "expanded",
  };
}

export function lunChildren(view: ConnectionView, iqn: string): TreeNode[] {
  const t = view.state.iscsiTargets.find((x) => x.iqn === iqn);
  return (t?.luns ?? []).map((l) => lunNode(view.name, l));
}

export function lunNode(connection: string, l: Lun): TreeNode {
  const source = l.source.kind === "volume" ? l.source.volume : `${l.source.volume}@${l.source.snapshot}`;
  return {
    id: `c/${connection}/t/${l.target}/l/${l.lun}`,
    ref: { kind: "lun", connection, iqn: l.target, lun: l.lun, url: l.url },
    label: `LUN ${l.lun}`,
    description: `${source}${l.readOnly ? " · read-only" : ""}`,
    tooltip: `${l.url}\nBacked by ${l.source.kind} ${source}`,
    icon: l.readOnly ? "lock" : "symbol-constant",
    contextValue: `lun.${l.source.kind}`,
    collapsible: "none",
  };
}

export function sessionNode(connection: string, s: Session): TreeNode {
  return {
    id: `c/${connection}/session/${s.id}`,
    ref: { kind: "session", connection, id: s.id, initiator: s.initiator, iqn: s.target },
    label: s.initiator,
    description: `${s.remoteAddress} → ${s.target}`,
    tooltip: [
      `Session ${s.id} (ISID ${s.isid})`,
      `Initiator ${s.initiator} from ${s.remoteAddress}`,
      `Target ${s.target}, ${s.connections} connection${s.connections === 1 ? "" : "s"}`,
      `Logged in ${s.loggedInAt}; digests header=${s.headerDigest} data=${s.dataDigest}`,
    ].join("\n"),
    icon: "plug",
    contextValue: "session",
    collapsible: "none",
  };
}

/** Children of any node: one entry point for the provider. */
export function childrenOf(views: ConnectionView[], node: TreeNode | undefined): TreeNode[] {
  if (!node) return views.map((v) => connectionNode(v));
  const view = views.find((v) => v.name === node.ref.connection);
  if (!view) return [];
  switch (node.ref.kind) {
    case "connection":
      return connectionChildren(view);
    case "volume":
      return volumeChildren(view, node.ref.volume);
    case "group":
      return groupChildren(view, node.ref.group);
    case "iscsiTarget":
      return lunChildren(view, node.ref.iqn);
    default:
      return [];
  }
}
