// All configured targets: builds a Connection per saved entry, follows settings changes, keeps tokens
// in SecretStorage, and fans every status/state change out to the tree and the status bar.
import * as vscode from "vscode";
import { Connection, type ConnectionConfig } from "./connection.js";
import { parseConnections, tokenKey } from "./settings.js";

export class ConnectionRegistry implements vscode.Disposable {
  private readonly connections = new Map<string, { connection: Connection; off: (() => void)[] }>();
  private readonly changed = new vscode.EventEmitter<void>();
  readonly onDidChange = this.changed.event;
  private readonly disposables: vscode.Disposable[] = [];

  constructor(
    private readonly secrets: vscode.SecretStorage,
    private readonly log: vscode.LogOutputChannel,
  ) {
    this.disposables.push(
      vscode.workspace.onDidChangeConfiguration((e) => {
        if (e.affectsConfiguration("livesnap.connections")) this.load(true);
      }),
      secrets.onDidChange((e) => {
        for (const { connection } of this.connections.values()) {
          if (e.key === tokenKey(connection.config.url) && connection.status.kind === "no-token") {
            void connection.connect();
          }
        }
      }),
      this.changed,
    );
  }

  /** (Re)reads the setting; new entries connect when `connectNew` (or autoConnect at startup). */
  load(connectNew: boolean): void {
    const raw = vscode.workspace.getConfiguration("livesnap").get<unknown>("connections");
    const { connections, problems } = parseConnections(raw);
    for (const p of problems) {
      this.log.warn(p);
      void vscode.window.showWarningMessage(`livesnap settings: ${p}`);
    }
    const wanted = new Map(connections.map((c) => [c.name, c]));
    for (const [name, entry] of this.connections) {
      const next = wanted.get(name);
      if (!next || next.url !== entry.connection.config.url) this.remove(name);
    }
    for (const config of connections) {
      if (this.connections.has(config.name)) continue;
      const connection = this.create(config);
      if (connectNew) void connection.connect();
    }
    this.changed.fire();
  }

  private create(config: ConnectionConfig): Connection {
    const connection = new Connection({
      config,
      getToken: () => Promise.resolve(this.secrets.get(tokenKey(config.url))),
      log: {
        info: (m) => this.log.info(m),
        warn: (m) => this.log.warn(m),
        error: (m) => this.log.error(m),
        debug: (m) => this.log.debug(m),
      },
      reconnect: vscode.workspace.getConfiguration("livesnap").get<boolean>("reconnect", true),
    });
    const off = [
      connection.onStatus(() => this.changed.fire()),
      connection.onStateChange(() => this.changed.fire()),
    ];
    this.connections.set(config.name, { connection, off });
    return connection;
  }

  private remove(name: string): void {
    const entry = this.connections.get(name);
    if (!entry) return;
    for (const off of entry.off) off();
    entry.connection.dispose();
    this.connections.delete(name);
  }

  all(): Connection[] {
    return [...this.connections.values()].map((e) => e.connection);
  }

  get(name: string): Connection | undefined {
    return this.connections.get(name)?.connection;
  }

  async setToken(url: string, token: string): Promise<void> {
    await this.secrets.store(tokenKey(url), token);
  }

  async deleteToken(url: string): Promise<void> {
    await this.secrets.delete(tokenKey(url));
  }

  async hasToken(url: string): Promise<boolean> {
    return (await this.secrets.get(tokenKey(url))) !== undefined;
  }

  dispose(): void {
    for (const name of [...this.connections.keys()]) this.remove(name);
    for (const d of this.disposables) d.dispose();
  }
}
