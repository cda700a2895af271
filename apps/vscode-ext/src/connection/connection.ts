// One livesnap target: WebSocket session, typed client, the loaded TargetState kept current from the
// event stream, and reconnection with backoff. No `vscode` import, so it is testable against a real
// server in plain Node.
import {
  createClient,
  type EventName,
  type EventPayload,
  eventNames,
  type MethodName,
  type MethodParams,
  type MethodResult,
  PROTOCOL_VERSION,
  type RpcClient,
} from "@livesnap/protocol";
import {
  applyEvent,
  type ConnectionStatus,
  emptyTargetState,
  type StateChange,
  type TargetState,
} from "./target-state.js";
import { WsTransport } from "./ws-transport.js";

export interface ConnectionConfig {
  name: string;
  url: string;
}

export interface ConnectionLogger {
  info(message: string): void;
  warn(message: string): void;
  error(message: string): void;
  debug(message: string): void;
}

export interface ConnectionOptions {
  config: ConnectionConfig;
  /** Asked at every (re)connect, so a token changed in SecretStorage applies to the next attempt. */
  getToken: () => Promise<string | undefined>;
  log: ConnectionLogger;
  reconnect: boolean;
  clientName?: string;
}

type Listener<T> = (value: T) => void;

class Emitter<T> {
  private readonly listeners = new Set<Listener<T>>();
  on(l: Listener<T>): () => void {
    this.listeners.add(l);
    return () => this.listeners.delete(l);
  }
  fire(value: T): void {
    for (const l of [...this.listeners]) l(value);
  }
}

/** How often a volume under I/O has its allocation and snapshot sizes re-read. */
export const VOLUME_REFRESH_MS = 2000;

/** 1 s, 2 s, 4 s … capped at 30 s. */
export function backoffMs(attempt: number): number {
  return Math.min(30_000, 1000 * 2 ** Math.max(0, attempt - 1));
}

export class Connection {
  readonly config: ConnectionConfig;
  status: ConnectionStatus = { kind: "disconnected" };
  state: TargetState = emptyTargetState();
  private client: RpcClient | undefined;
  private transport: WsTransport | undefined;
  private attempt = 0;
  private retryTimer: ReturnType<typeof setTimeout> | undefined;
  private wanted = false;
  private generation = 0;
  private readonly statusEmitter = new Emitter<ConnectionStatus>();
  private readonly changeEmitter = new Emitter<StateChange>();
  private readonly eventEmitter = new Emitter<{ event: EventName; payload: unknown }>();

  constructor(private readonly options: ConnectionOptions) {
    this.config = options.config;
  }

  onStatus(l: Listener<ConnectionStatus>): () => void {
    return this.statusEmitter.on(l);
  }
  onStateChange(l: Listener<StateChange>): () => void {
    return this.changeEmitter.on(l);
  }
  /** Every validated event pushed by the server (block-map panels listen here). */
  onEvent<E extends EventName>(event: E, l: (payload: EventPayload<E>) => void): () => void {
    return this.eventEmitter.on((e) => {
      if (e.event === event) l(e.payload as EventPayload<E>);
    });
  }

  get connected(): boolean {
    return this.status.kind === "connected" && this.client !== undefined;
  }

  /** Typed call; throws when not connected. */
  call<M extends MethodName>(method: M, params: MethodParams<M>): Promise<MethodResult<M>> {
    if (!this.client || this.status.kind !== "connected") {
      return Promise.reject(new Error(`${this.config.name}: not connected`));
    }
    return this.client.call(method, params);
  }

  /** Starts (or restarts) connecting; resolves when this attempt succeeded or failed. */
  async connect(): Promise<void> {
    this.wanted = true;
    this.clearRetry();
    await this.dropSession();
    await this.attemptConnect();
  }

  async disconnect(): Promise<void> {
    this.wanted = false;
    this.clearRetry();
    await this.dropSession();
    this.attempt = 0;
    this.setStatus({ kind: "disconnected" });
  }

  dispose(): void {
    void this.disconnect();
  }

  /** Reloads every list (after a reconnect, or on the user's Refresh). */
  async reload(): Promise<void> {
    const client = this.client;
    if (!client) return;
    // Events that arrive while the lists load are replayed on top of them (applyEvent is idempotent),
    // so a snapshot taken mid-load is neither lost nor doubled.
    this.loading = [];
    try {
      await this.loadLists(client);
    } finally {
      const replay = this.loading;
      this.loading = undefined;
      for (const e of replay) this.onServerEvent(e.event, e.payload);
    }
  }

  private loading: { event: EventName; payload: unknown }[] | undefined;

  private async loadLists(client: RpcClient): Promise<void> {
    const [volumes, targets, sessions] = await Promise.all([
      client.call("volume.list", {}),
      client.call("target.list", {}),
      client.call("session.list", {}),
    ]);
    const snapshots = new Map<string, MethodResult<"snapshot.list">["snapshots"]>();
    await Promise.all(
      volumes.volumes.map(async (v) => {
        const r = await client.call("snapshot.list", { volume: v.name });
        snapshots.set(v.name, r.snapshots);
      }),
    );
    this.state = {
      serverVersion: this.state.serverVersion,
      volumes: [...volumes.volumes].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0)),
      snapshots,
      iscsiTargets: targets.targets,
      sessions: sessions.sessions,
    };
    this.changeEmitter.fire({ kind: "all" });
  }

  private async attemptConnect(): Promise<void> {
    const generation = ++this.generation;
    this.attempt++;
    this.setStatus({ kind: "connecting", attempt: this.attempt });
    const token = await this.options.getToken();
    if (generation !== this.generation) return;
    if (!token) {
      this.wanted = false;
      this.setStatus({ kind: "no-token" });
      return;
    }
    try {
      const transport = await WsTransport.connect({ url: this.config.url, token });
      if (generation !== this.generation) {
        await transport.close();
        return;
      }
      this.transport = transport;
      const client = createClient(transport, {
        onInvalidEvent: (event, err) =>
          this.options.log.warn(`${this.config.name}: invalid ${event} event: ${err.message}`),
      });
      this.client = client;
      transport.onClose((reason) => {
        if (generation !== this.generation) return;
        this.onLost(reason);
      });
      for (const event of eventNames) {
        client.on(event, (payload) => this.onServerEvent(event, payload));
      }
      const hello = await client.call("hello", {
        protocolVersion: PROTOCOL_VERSION,
        client: this.options.clientName ?? "livesnap-vscode",
      });
      await client.call("events.subscribe", {});
      this.state = emptyTargetState(hello.serverVersion);
      // Load before announcing "connected": nobody should see a connected target with no volumes.
      await this.reload();
      if (generation !== this.generation) return;
      this.setStatus({ kind: "connected" });
      this.attempt = 0;
      this.options.log.info(
        `${this.config.name}: connected to ${this.config.url} (livesnap ${hello.serverVersion})`,
      );
    } catch (err) {
      if (generation !== this.generation) return;
      const message = err instanceof Error ? err.message : String(err);
      this.options.log.warn(`${this.config.name}: connection to ${this.config.url} failed: ${message}`);
      await this.dropSession();
      this.scheduleRetry(message, /token rejected|unauthorized/i.test(message));
    }
  }

  private onLost(reason: string): void {
    this.options.log.warn(`${this.config.name}: connection lost: ${reason}`);
    this.client = undefined;
    this.transport = undefined;
    this.scheduleRetry(`connection lost: ${reason}`, false);
  }

  private scheduleRetry(message: string, fatal: boolean): void {
    if (!this.wanted || !this.options.reconnect || fatal) {
      this.setStatus({ kind: "error", message });
      return;
    }
    const delay = backoffMs(this.attempt);
    this.setStatus({ kind: "error", message, retryAt: Date.now() + delay });
    this.clearRetry();
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      void this.attemptConnect();
    }, delay);
  }

  private clearRetry(): void {
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
  }

  private async dropSession(): Promise<void> {
    this.generation++;
    const transport = this.transport;
    this.client = undefined;
    this.transport = undefined;
    if (transport) await transport.close().catch(() => {});
  }

  private onServerEvent(event: EventName, payload: unknown): void {
    if (this.loading) {
      this.loading.push({ event, payload });
      return;
    }
    const change = applyEvent(this.state, event, payload as EventPayload<typeof event>);
    if (change.kind !== "none") this.changeEmitter.fire(change);
    if (event === "volume.io") {
      const io = payload as EventPayload<"volume.io">;
      if (io.writeIops > 0 || io.cowCopiesPerSec > 0) this.scheduleVolumeRefresh(io.volume);
    }
    this.eventEmitter.fire({ event, payload });
  }

  private readonly volumeRefreshAt = new Map<string, number>();

  /**
   * Writes change a volume's allocation and its newest snapshot's preserved bytes, which no event
   * carries: re-read them, at most every VOLUME_REFRESH_MS per volume, while I/O goes on.
   */
  private scheduleVolumeRefresh(volume: string): void {
    const now = Date.now();
    if ((this.volumeRefreshAt.get(volume) ?? 0) > now) return;
    void this.refreshVolume(volume);
  }

  /** Re-reads one volume and its snapshots now (after a rollback, or from the throttled refresh). */
  async refreshVolume(volume: string): Promise<void> {
    const now = Date.now();
    this.volumeRefreshAt.set(volume, now + VOLUME_REFRESH_MS);
    const client = this.client;
    if (!client) return;
    await Promise.all([client.call("volume.get", { volume }), client.call("snapshot.list", { volume })])
      .then(([v, s]) => {
        if (client !== this.client) return;
        const i = this.state.volumes.findIndex((x) => x.name === volume);
        if (i >= 0) this.state.volumes[i] = v.volume;
        this.state.snapshots.set(volume, s.snapshots);
        this.changeEmitter.fire({ kind: "volume", volume });
      })
      .catch((err: unknown) =>
        this.options.log.debug(`${this.config.name}: refresh of ${volume} failed: ${(err as Error).message}`),
      );
  }

  private setStatus(status: ConnectionStatus): void {
    this.status = status;
    this.statusEmitter.fire(status);
  }
}
