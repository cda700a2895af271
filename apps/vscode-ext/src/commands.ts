// Every command of the extension. Each works from the palette (asking with quick picks for what it
// needs), from a tree item's context menu (the node is the argument), and from the block-map panel
// ({ connection, volume } argument).
import { RpcError } from "@livesnap/protocol";
import * as vscode from "vscode";
import { BlockMapPanel } from "./blockmap/panel.js";
import type { Connection } from "./connection/connection.js";
import type { ConnectionRegistry } from "./connection/registry.js";
import { DEFAULT_URL, parseConnections, validateUrl } from "./connection/settings.js";
import { normaliseUrl } from "./connection/ws-transport.js";
import { formatBytes } from "./format.js";
import { defaultSnapshotName, validateObjectName } from "./snapshot-names.js";
import type { NodeRef, TreeNode } from "./tree/tree-model.js";

interface Deps {
  context: vscode.ExtensionContext;
  registry: ConnectionRegistry;
  log: vscode.LogOutputChannel;
}

/** What a command may be called with. */
type Arg = TreeNode | { connection?: string; volume?: string; snapshot?: string; name?: string } | undefined;

function refOf(arg: Arg): Partial<{ connection: string; volume: string; snapshot: string; name: string }> & {
  ref?: NodeRef;
} {
  if (!arg || typeof arg !== "object") return {};
  if ("ref" in arg && arg.ref) {
    const r = arg.ref;
    return {
      ref: r,
      connection: r.connection,
      ...("volume" in r ? { volume: r.volume } : {}),
      ...("snapshot" in r ? { snapshot: r.snapshot } : {}),
    };
  }
  const plain = arg as { connection?: string; volume?: string; snapshot?: string; name?: string };
  return { ...plain };
}

function errorText(err: unknown): string {
  if (err instanceof RpcError) return `${err.message} (${err.kind})`;
  return err instanceof Error ? err.message : String(err);
}

// Every quick pick and input box sets ignoreFocusOut: multi-step flows must survive focus moving
// (a webview repainting, a notification) while the user reads the options.
export function registerCommands({ context, registry, log }: Deps): void {
  const reg = (id: string, fn: (arg: Arg) => unknown) =>
    context.subscriptions.push(
      vscode.commands.registerCommand(id, async (arg: Arg) => {
        try {
          return await fn(arg);
        } catch (err) {
          log.error(`${id}: ${errorText(err)}`);
          void vscode.window.showErrorMessage(`livesnap: ${errorText(err)}`);
          return undefined;
        }
      }),
    );

  async function pickConnection(
    name: string | undefined,
    opts: { connectedOnly: boolean },
  ): Promise<Connection | undefined> {
    if (name) {
      const c = registry.get(name);
      if (!c) throw new Error(`no target named ${name}`);
      return c;
    }
    const candidates = registry.all().filter((c) => !opts.connectedOnly || c.connected);
    if (candidates.length === 0) {
      throw new Error(opts.connectedOnly ? "no connected livesnap target" : "no livesnap target configured");
    }
    if (candidates.length === 1) return candidates[0];
    const pick = await vscode.window.showQuickPick(
      candidates.map((c) => ({ label: c.config.name, description: `${c.config.url} · ${c.status.kind}`, c })),
      { title: "livesnap target", placeHolder: "Pick a target", ignoreFocusOut: true },
    );
    return pick?.c;
  }

  async function pickVolume(arg: Arg): Promise<{ connection: Connection; volume: string } | undefined> {
    const r = refOf(arg);
    const connection = await pickConnection(r.connection, { connectedOnly: true });
    if (!connection) return undefined;
    if (r.volume) return { connection, volume: r.volume };
    const volumes = connection.state.volumes;
    if (volumes.length === 0) throw new Error(`${connection.config.name} has no volumes`);
    if (volumes.length === 1 && volumes[0]) return { connection, volume: volumes[0].name };
    const pick = await vscode.window.showQuickPick(
      volumes.map((v) => ({
        label: v.name,
        description: `${formatBytes(v.sizeBytes)} · ${v.snapshotCount} snapshots`,
      })),
      { title: "Volume", placeHolder: "Pick a volume", ignoreFocusOut: true },
    );
    return pick ? { connection, volume: pick.label } : undefined;
  }

  async function pickSnapshot(
    arg: Arg,
    title: string,
  ): Promise<{ connection: Connection; volume: string; snapshot: string } | undefined> {
    const r = refOf(arg);
    const target = await pickVolume(arg);
    if (!target) return undefined;
    if (r.snapshot) return { ...target, snapshot: r.snapshot };
    const snaps = [...(target.connection.state.snapshots.get(target.volume) ?? [])].reverse();
    if (snaps.length === 0) throw new Error(`${target.volume} has no snapshots`);
    const pick = await vscode.window.showQuickPick(
      snaps.map((s) => ({
        label: s.name,
        description: `${s.createdAt} · ${formatBytes(s.preservedBytes)} preserved${s.valid ? "" : " · INVALID"}`,
      })),
      { title, placeHolder: `Snapshot of ${target.volume}`, ignoreFocusOut: true },
    );
    return pick ? { ...target, snapshot: pick.label } : undefined;
  }

  // ---------------------------------------------------------------- connections

  reg("livesnap.addConnection", async () => {
    const url = await vscode.window.showInputBox({
      title: "Add livesnap target (1/3): management API URL",
      value: DEFAULT_URL,
      prompt: "WebSocket URL of the target's management API",
      validateInput: validateUrl,
      ignoreFocusOut: true,
    });
    if (url === undefined) return;
    const existing = parseConnections(
      vscode.workspace.getConfiguration("livesnap").get("connections"),
    ).connections;
    const host = new URL(normaliseUrl(url.trim())).host;
    const name = await vscode.window.showInputBox({
      title: "Add livesnap target (2/3): name",
      value: existing.some((c) => c.name === host) ? `${host}-2` : host,
      validateInput: (n) =>
        n.trim() === ""
          ? "name must not be empty"
          : existing.some((c) => c.name === n.trim())
            ? "name already used"
            : undefined,
      ignoreFocusOut: true,
    });
    if (name === undefined) return;
    const token = await vscode.window.showInputBox({
      title: "Add livesnap target (3/3): token",
      prompt:
        "Bearer token (file api-token in the target's data directory). Stored in VS Code's secret storage.",
      password: true,
      ignoreFocusOut: true,
    });
    if (token === undefined) return;
    if (token.trim()) await registry.setToken(url.trim(), token.trim());
    const config = vscode.workspace.getConfiguration("livesnap");
    const raw = config.get<unknown[]>("connections") ?? [];
    await config.update(
      "connections",
      [...raw, { name: name.trim(), url: url.trim() }],
      vscode.ConfigurationTarget.Global,
    );
    registry.load(true);
    log.info(`added target ${name.trim()} (${url.trim()})`);
  });

  reg("livesnap.removeConnection", async (arg) => {
    const c = await pickConnection(refOf(arg).connection, { connectedOnly: false });
    if (!c) return;
    const ok = await vscode.window.showWarningMessage(
      `Remove the livesnap target "${c.config.name}" (${c.config.url}) and its stored token?`,
      { modal: true },
      "Remove",
    );
    if (ok !== "Remove") return;
    const config = vscode.workspace.getConfiguration("livesnap");
    const raw = config.get<unknown[]>("connections") ?? [];
    const kept = raw.filter(
      (e) => !(typeof e === "object" && e !== null && (e as { name?: unknown }).name === c.config.name),
    );
    await config.update("connections", kept, vscode.ConfigurationTarget.Global);
    await registry.deleteToken(c.config.url);
    registry.load(false);
  });

  reg("livesnap.setToken", async (arg) => {
    const c = await pickConnection(refOf(arg).connection, { connectedOnly: false });
    if (!c) return;
    const token = await vscode.window.showInputBox({
      title: `Token for ${c.config.name}`,
      prompt: `Bearer token for ${c.config.url} (file api-token in the target's data directory)`,
      password: true,
      ignoreFocusOut: true,
      validateInput: (t) => (t.trim() === "" ? "token must not be empty" : undefined),
    });
    if (!token) return;
    await registry.setToken(c.config.url, token.trim());
    await c.connect();
  });

  reg("livesnap.connect", async (arg) => {
    const c = await pickConnection(refOf(arg).connection, { connectedOnly: false });
    if (!c) return;
    if (!(await registry.hasToken(c.config.url))) {
      await vscode.commands.executeCommand("livesnap.setToken", { connection: c.config.name });
      return;
    }
    await c.connect();
    if (c.status.kind === "error")
      void vscode.window.showWarningMessage(`livesnap ${c.config.name}: ${c.status.message}`);
  });

  reg("livesnap.disconnect", async (arg) => {
    const r = refOf(arg);
    const candidates = r.connection
      ? undefined
      : registry.all().filter((c) => c.status.kind !== "disconnected");
    const c =
      candidates && candidates.length === 0
        ? undefined
        : await pickConnection(
            r.connection ?? (candidates?.length === 1 ? candidates[0]?.config.name : undefined),
            {
              connectedOnly: false,
            },
          );
    await c?.disconnect();
  });

  reg("livesnap.refresh", async () => {
    await Promise.all(
      registry
        .all()
        .map((c) => (c.connected ? c.reload() : c.status.kind === "error" ? c.connect() : Promise.resolve())),
    );
  });

  reg("livesnap.showLog", () => log.show(true));

  // ---------------------------------------------------------------- snapshots

  reg("livesnap.takeSnapshot", async (arg) => {
    const target = await pickVolume(arg);
    if (!target) return;
    const r = refOf(arg);
    const name =
      r.name ??
      (await vscode.window.showInputBox({
        title: `Take live snapshot of ${target.volume}`,
        ignoreFocusOut: true,
        prompt: "Snapshot name. Writes keep flowing: no drain, no pause.",
        value: defaultSnapshotName(),
        validateInput: validateObjectName,
      }));
    if (!name) return;
    const started = performance.now();
    const { snapshot } = await target.connection.call("snapshot.create", { volume: target.volume, name });
    const ms = (performance.now() - started).toFixed(1);
    log.info(`snapshot ${snapshot.name} of ${target.volume} taken in ${ms} ms (seq ${snapshot.seq})`);
    void vscode.window.showInformationMessage(
      `Live snapshot ${snapshot.name} of ${target.volume} taken (${ms} ms).`,
    );
    return snapshot.name;
  });

  reg("livesnap.groupSnapshot", async (arg) => {
    const connection = await pickConnection(refOf(arg).connection, { connectedOnly: true });
    if (!connection) return;
    const preselected = refOf(arg).volume;
    const picks = await vscode.window.showQuickPick(
      connection.state.volumes.map((v) => ({
        label: v.name,
        description: formatBytes(v.sizeBytes),
        picked: preselected ? v.name === preselected : true,
      })),
      {
        title: "Group snapshot: volumes taken at one admission point",
        canPickMany: true,
        ignoreFocusOut: true,
      },
    );
    if (!picks || picks.length === 0) return;
    const name = await vscode.window.showInputBox({
      title: "Group snapshot name (the same in every volume)",
      ignoreFocusOut: true,
      value: defaultSnapshotName().replace(/^live-/, "group-"),
      validateInput: validateObjectName,
    });
    if (!name) return;
    const result = await connection.call("group.snapshot", {
      entries: picks.map((p) => ({ volume: p.label, snapshot: name })),
    });
    void vscode.window.showInformationMessage(
      `Group snapshot ${name} taken of ${result.snapshots.map((s) => s.volume).join(", ")}${result.group ? ` (group ${result.group})` : ""}.`,
    );
  });

  reg("livesnap.deleteSnapshot", async (arg) => {
    const s = await pickSnapshot(arg, "Delete snapshot");
    if (!s) return;
    const ok = await vscode.window.showWarningMessage(
      `Delete snapshot ${s.snapshot} of ${s.volume}? Its preserved data is freed; this cannot be undone.`,
      { modal: true },
      "Delete",
    );
    if (ok !== "Delete") return;
    await s.connection.call("snapshot.delete", { volume: s.volume, snapshot: s.snapshot });
    log.info(`deleted snapshot ${s.snapshot} of ${s.volume}`);
  });

  reg("livesnap.rollback", async (arg) => {
    const s = await pickSnapshot(arg, "Roll back to snapshot");
    if (!s) return;
    const ok = await vscode.window.showWarningMessage(
      `Roll back ${s.volume} to ${s.snapshot}?`,
      {
        modal: true,
        detail:
          "Every write made to the volume after the snapshot is lost. Initiators using the volume see its contents change; unmount it first.",
      },
      "Roll Back",
    );
    if (ok !== "Roll Back") return;
    await vscode.window.withProgress(
      {
        location: vscode.ProgressLocation.Notification,
        title: `Rolling back ${s.volume} to ${s.snapshot}`,
        cancellable: false,
      },
      async (progress) => {
        let reported = 0;
        const off = s.connection.onEvent("rollback.progress", (p) => {
          if (p.volume !== s.volume || p.totalChunks === 0) return;
          const pct = (100 * p.doneChunks) / p.totalChunks;
          progress.report({
            increment: pct - reported,
            message: `${p.doneChunks.toLocaleString()} / ${p.totalChunks.toLocaleString()} chunks`,
          });
          reported = pct;
        });
        try {
          await s.connection.call("snapshot.rollback", { volume: s.volume, snapshot: s.snapshot });
        } finally {
          off();
        }
      },
    );
    log.info(`rolled back ${s.volume} to ${s.snapshot}`);
    // Every chunk may have changed: the tree and open block maps re-read the volume.
    await s.connection.refreshVolume(s.volume);
    void vscode.window.showInformationMessage(`${s.volume} rolled back to ${s.snapshot}.`);
  });

  reg("livesnap.exposeSnapshot", async (arg) => {
    const s = await pickSnapshot(arg, "Expose snapshot as a read-only LUN");
    if (!s) return;
    const lunText = await vscode.window.showInputBox({
      title: `Expose ${s.volume}@${s.snapshot} as a LUN`,
      ignoreFocusOut: true,
      prompt: "LUN number (1-16383), empty for the next free one",
      validateInput: (t) =>
        t.trim() === "" || /^\d+$/.test(t.trim()) ? undefined : "a number from 1 to 16383",
    });
    if (lunText === undefined) return;
    const { lun } = await s.connection.call("snapshot.expose", {
      volume: s.volume,
      snapshot: s.snapshot,
      ...(lunText.trim() ? { lun: Number(lunText.trim()) } : {}),
    });
    const choice = await vscode.window.showInformationMessage(
      `${s.volume}@${s.snapshot} is LUN ${lun.lun} of ${lun.target} (read-only).`,
      "Copy URL",
      "Copy IQN",
    );
    if (choice === "Copy URL") await vscode.env.clipboard.writeText(lun.url);
    if (choice === "Copy IQN") await vscode.env.clipboard.writeText(lun.target);
  });

  reg("livesnap.withdrawLun", async (arg) => {
    const r = refOf(arg);
    let connection: Connection | undefined;
    let iqn: string | undefined;
    let lun: number | undefined;
    if (r.ref?.kind === "lun") {
      connection = registry.get(r.ref.connection);
      iqn = r.ref.iqn;
      lun = r.ref.lun;
    } else {
      connection = await pickConnection(r.connection, { connectedOnly: true });
      if (!connection) return;
      const luns = connection.state.iscsiTargets.flatMap((t) =>
        t.luns.filter((l) => l.source.kind === "snapshot"),
      );
      if (luns.length === 0) throw new Error("no snapshot is exposed as a LUN");
      const pick = await vscode.window.showQuickPick(
        luns.map((l) => ({
          label: `LUN ${l.lun}`,
          description:
            l.source.kind === "snapshot" ? `${l.source.volume}@${l.source.snapshot} · ${l.target}` : l.target,
          l,
        })),
        { title: "Withdraw LUN", ignoreFocusOut: true, matchOnDescription: true },
      );
      if (!pick) return;
      iqn = pick.l.target;
      lun = pick.l.lun;
    }
    if (!connection || iqn === undefined || lun === undefined) return;
    const ok = await vscode.window.showWarningMessage(
      `Withdraw LUN ${lun} of ${iqn}? Logged-in initiators lose it.`,
      { modal: true },
      "Withdraw",
    );
    if (ok !== "Withdraw") return;
    await connection.call("lun.withdraw", { target: iqn, lun });
  });

  // ---------------------------------------------------------------- block map

  reg("livesnap.openBlockMap", async (arg) => {
    const target = await pickVolume(arg);
    if (!target) return;
    const snapshot = refOf(arg).snapshot;
    BlockMapPanel.show(context, target.connection, target.volume, log, snapshot ? { snapshot } : undefined);
  });

  reg("livesnap.diffSnapshots", async (arg) => {
    const from = await pickSnapshot(arg, "Compare: from snapshot");
    if (!from) return;
    const later = (from.connection.state.snapshots.get(from.volume) ?? []).filter(
      (s) => s.name !== from.snapshot,
    );
    const to = await vscode.window.showQuickPick(
      [
        {
          label: "Live volume",
          description: "the volume as it is now",
          value: undefined as string | undefined,
        },
      ].concat(
        [...later]
          .reverse()
          .map((s) => ({ label: s.name, description: s.createdAt, value: s.name as string | undefined })),
      ),
      { title: `Compare ${from.snapshot} with…`, ignoreFocusOut: true },
    );
    if (!to) return;
    BlockMapPanel.show(context, from.connection, from.volume, log, {
      diff: { from: from.snapshot, ...(to.value ? { to: to.value } : {}) },
    });
  });

  // ---------------------------------------------------------------- clipboard

  reg("livesnap.copyIqn", async (arg) => {
    const r = refOf(arg).ref;
    const iqn =
      r?.kind === "iscsiTarget" || r?.kind === "lun"
        ? r.iqn
        : r?.kind === "session"
          ? r.initiator
          : undefined;
    if (!iqn) throw new Error("pick an iSCSI target, LUN or session in the Targets view");
    await vscode.env.clipboard.writeText(iqn);
    void vscode.window.setStatusBarMessage(`Copied ${iqn}`, 3000);
  });

  reg("livesnap.copyUrl", async (arg) => {
    const r = refOf(arg).ref;
    const url =
      r?.kind === "lun"
        ? r.url
        : r?.kind === "connection"
          ? registry.get(r.connection)?.config.url
          : undefined;
    if (!url) throw new Error("pick a LUN or a target in the Targets view");
    await vscode.env.clipboard.writeText(url);
    void vscode.window.setStatusBarMessage(`Copied ${url}`, 3000);
  });
}
