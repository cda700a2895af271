// Host side of the block-map panel: one webview per (target, volume). Answers the webview's range
// queries with `blockmap.get`, forwards live writes (coalesced) and snapshot changes. Every message
// is a @livesnap/protocol webview message and is validated on arrival.
import { type HostToWebview, WebviewToHost } from "@livesnap/protocol";
import * as vscode from "vscode";
import type { Connection } from "../connection/connection.js";
import { WriteCoalescer } from "../events/write-coalescer.js";
import { makeNonce, panelHtml } from "./panel-html.js";

export type PanelFocus = { snapshot?: string; diff?: { from: string; to?: string } };

export class BlockMapPanel {
  private static readonly panels = new Map<string, BlockMapPanel>();
  private readonly disposables: vscode.Disposable[] = [];
  private readonly coalescer: WriteCoalescer;
  private ready = false;
  private pendingFocus: PanelFocus | undefined;

  static show(
    context: vscode.ExtensionContext,
    connection: Connection,
    volume: string,
    log: vscode.LogOutputChannel,
    focus?: PanelFocus,
  ): BlockMapPanel {
    const key = `${connection.config.name}/${volume}`;
    const existing = BlockMapPanel.panels.get(key);
    if (existing) {
      existing.panel.reveal();
      if (focus) existing.focus(focus);
      return existing;
    }
    const panel = vscode.window.createWebviewPanel(
      "livesnap.blockMap",
      `Block map: ${volume}`,
      vscode.ViewColumn.Active,
      {
        enableScripts: true,
        retainContextWhenHidden: true,
        localResourceRoots: [
          vscode.Uri.joinPath(context.extensionUri, "dist"),
          vscode.Uri.joinPath(context.extensionUri, "media"),
        ],
      },
    );
    const created = new BlockMapPanel(context, panel, connection, volume, log);
    BlockMapPanel.panels.set(key, created);
    if (focus) created.focus(focus);
    return created;
  }

  static disposeAll(): void {
    for (const p of [...BlockMapPanel.panels.values()]) p.panel.dispose();
  }

  private constructor(
    context: vscode.ExtensionContext,
    readonly panel: vscode.WebviewPanel,
    private readonly connection: Connection,
    private readonly volume: string,
    private readonly log: vscode.LogOutputChannel,
  ) {
    const webview = panel.webview;
    const settings = vscode.workspace.getConfiguration("livesnap.blockMap");
    panel.iconPath = vscode.Uri.joinPath(context.extensionUri, "media", "livesnap.svg");
    webview.html = panelHtml({
      cspSource: webview.cspSource,
      nonce: makeNonce(),
      scriptUri: webview
        .asWebviewUri(vscode.Uri.joinPath(context.extensionUri, "dist", "webview.js"))
        .toString(),
      styleUri: webview
        .asWebviewUri(vscode.Uri.joinPath(context.extensionUri, "media", "webview.css"))
        .toString(),
      volume,
      cellSize: settings.get<number>("cellSize", 8),
      live: settings.get<boolean>("liveUpdates", true),
    });
    this.coalescer = new WriteCoalescer(100, (v, runs) => {
      const chunkSize = this.chunkSize();
      if (chunkSize) this.post({ type: "delta", volume: v, chunkSize, runs });
    });
    this.disposables.push(
      webview.onDidReceiveMessage((raw: unknown) => void this.onMessage(raw)),
      panel.onDidDispose(() => this.dispose()),
      toDisposable(
        connection.onEvent("blockmap.delta", (d) => {
          if (d.volume === volume) this.coalescer.add(volume, d.runs);
        }),
      ),
      toDisposable(
        connection.onStateChange((change) => {
          if (change.kind === "all" || (change.kind === "volume" && change.volume === volume))
            this.sendVolume();
        }),
      ),
      toDisposable(
        connection.onStatus((status) => {
          if (status.kind === "connected") {
            this.post({ type: "connection", connected: true });
            this.sendVolume();
          } else if (status.kind === "error" || status.kind === "disconnected") {
            this.post({
              type: "connection",
              connected: false,
              ...(status.kind === "error" ? { message: status.message } : {}),
            });
          }
        }),
      ),
    );
  }

  focus(focus: PanelFocus): void {
    if (!this.ready) {
      this.pendingFocus = focus;
      return;
    }
    this.post({ type: "focus", ...focus });
  }

  private chunkSize(): number | undefined {
    return this.connection.state.volumes.find((v) => v.name === this.volume)?.chunkSize;
  }

  private sendVolume(): void {
    const volume = this.connection.state.volumes.find((v) => v.name === this.volume);
    if (!volume) {
      this.post({ type: "error", message: `volume ${this.volume} is gone` });
      return;
    }
    this.post({ type: "volume", volume, snapshots: this.connection.state.snapshots.get(this.volume) ?? [] });
  }

  private post(message: HostToWebview): void {
    void this.panel.webview.postMessage(message);
  }

  private async onMessage(raw: unknown): Promise<void> {
    const parsed = WebviewToHost.safeParse(raw);
    if (!parsed.success) {
      this.log.warn(`block map ${this.volume}: ignored malformed webview message: ${parsed.error.message}`);
      return;
    }
    const msg = parsed.data;
    switch (msg.type) {
      case "ready":
        this.ready = true;
        this.post({ type: "connection", connected: this.connection.connected });
        this.sendVolume();
        if (this.pendingFocus) {
          this.post({ type: "focus", ...this.pendingFocus });
          this.pendingFocus = undefined;
        }
        return;
      case "request-blockmap": {
        const started = performance.now();
        try {
          const map = await this.connection.call("blockmap.get", {
            volume: msg.volume,
            buckets: msg.buckets,
            ...(msg.snapshot ? { snapshot: msg.snapshot } : {}),
            ...(msg.since ? { since: msg.since } : {}),
            ...(msg.start !== undefined ? { start: msg.start } : {}),
            ...(msg.end !== undefined ? { end: msg.end } : {}),
          });
          this.log.trace(
            `blockmap.get ${msg.volume} [${msg.start}, ${msg.end}) x${msg.buckets}: ${(performance.now() - started).toFixed(1)} ms`,
          );
          this.post({
            type: "blockmap",
            volume: msg.volume,
            ...(msg.snapshot ? { snapshot: msg.snapshot } : {}),
            ...(msg.since ? { since: msg.since } : {}),
            ...(msg.requestId !== undefined ? { requestId: msg.requestId } : {}),
            map,
          });
        } catch (err) {
          const message = err instanceof Error ? err.message : String(err);
          this.log.warn(`blockmap.get ${msg.volume}: ${message}`);
          this.post({
            type: "error",
            message,
            ...(msg.requestId !== undefined ? { requestId: msg.requestId } : {}),
          });
        }
        return;
      }
      case "take-snapshot":
        await vscode.commands.executeCommand("livesnap.takeSnapshot", {
          connection: this.connection.config.name,
          volume: msg.volume,
          ...(msg.name ? { name: msg.name } : {}),
        });
        return;
    }
  }

  private dispose(): void {
    BlockMapPanel.panels.delete(`${this.connection.config.name}/${this.volume}`);
    this.coalescer.dispose();
    for (const d of this.disposables) d.dispose();
  }
}

function toDisposable(off: () => void): vscode.Disposable {
  return new vscode.Disposable(off);
}
