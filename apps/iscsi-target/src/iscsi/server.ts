// The iSCSI side of the daemon: portals (net servers), the session registry with TSIH
// allocation and session reinstatement, discovery answers, and a draining shutdown.
import { EventEmitter } from "node:events";
import { createServer, type Server, type Socket } from "node:net";
import {
  DEFAULT_TARGET_LIMITS,
  type DiscoverableTarget,
  formatTargetAddress,
  type ItNexus,
  type LoginConfig,
  type LoginRequest,
  LoginStatus,
  type LoginTarget,
  type ScsiTargetPort,
  type SessionParameters,
  sendTargetsAnswer,
  type TargetLimits,
  type TextPairs,
} from "@livesnap/iscsi";
import type { Logger } from "pino";
import { Connection, type KeepaliveOptions, type LoginAuthority } from "./connection.js";
import { isidHex, Session, type SessionHost } from "./session.js";

export interface ServedTarget extends LoginTarget {
  port: ScsiTargetPort;
}

export interface PortalAddress {
  host: string;
  port: number;
}

export interface IscsiServerOptions {
  /** Current targets (looked up at each login, so LUN/target changes need no restart). */
  targets: () => readonly ServedTarget[];
  portalGroupTag?: number;
  limits?: Partial<TargetLimits>;
  keepalive?: Partial<KeepaliveOptions>;
  /** CmdSN window per session. */
  queueDepth?: number;
  discoveryChap?: LoginConfig["discoveryChap"];
  /**
   * Called once per completed SCSI command (response sent or dropped) with its latency; on the
   * I/O path, so it must be cheap. `kind` comes from the command's R/W bits.
   */
  onCommandDone?: CommandObserver;
  logger: Logger;
}

export type CommandObserver = (
  target: string,
  lun: number,
  kind: "read" | "write" | "other",
  seconds: number,
) => void;

export interface SessionSummary {
  tsih: number;
  target: string | undefined;
  initiator: string;
  isid: string;
  remoteAddress: string;
  loggedInAt: Date;
  headerDigest: string;
  dataDigest: string;
  sessionType: "Normal" | "Discovery";
}

export interface IscsiServerEvents {
  login: [SessionSummary];
  logout: [SessionSummary & { reason: string }];
}

export class IscsiServer implements LoginAuthority, SessionHost {
  readonly events = new EventEmitter<IscsiServerEvents>();
  readonly loginConfig: LoginConfig;
  private readonly servers: Server[] = [];
  private readonly connections = new Set<Connection>();
  private readonly sessions = new Map<number, Session>();
  private readonly sessionConnection = new Map<Session, Connection>();
  private nextTsih = 1;
  private readonly keepalive: KeepaliveOptions;
  private readonly queueDepth: number;
  private readonly logger: Logger;
  private readonly tpgt: number;
  private boundPortals: PortalAddress[] = [];
  private stopping = false;

  constructor(private readonly options: IscsiServerOptions) {
    this.logger = options.logger;
    this.tpgt = options.portalGroupTag ?? 1;
    this.keepalive = { intervalMs: 5000, timeoutMs: 10000, ...options.keepalive };
    this.queueDepth = options.queueDepth ?? 128;
    this.loginConfig = {
      portalGroupTag: this.tpgt,
      limits: { ...DEFAULT_TARGET_LIMITS, ...options.limits },
      findTarget: (name) => this.options.targets().find((t) => t.name === name),
      ...(options.discoveryChap ? { discoveryChap: options.discoveryChap } : {}),
    };
  }

  get portals(): PortalAddress[] {
    return this.boundPortals;
  }

  async listen(portals: readonly PortalAddress[]): Promise<PortalAddress[]> {
    for (const p of portals) {
      // Paused: the connection moves the socket's handle to one that reads into its own buffer.
      const server = createServer({ pauseOnConnect: true }, (socket) => this.accept(socket));
      await new Promise<void>((resolve, reject) => {
        server.once("error", reject);
        server.listen(p.port, p.host, () => {
          server.off("error", reject);
          resolve();
        });
      });
      server.on("error", (err) => this.logger.error({ err }, "portal error"));
      const addr = server.address();
      const port = typeof addr === "object" && addr ? addr.port : p.port;
      this.servers.push(server);
      this.boundPortals.push({ host: p.host, port });
      this.logger.info({ host: p.host, port }, "iSCSI portal listening");
    }
    return this.boundPortals;
  }

  private accept(socket: Socket): void {
    if (this.stopping) {
      socket.destroy();
      return;
    }
    const conn = new Connection(socket, this, this.keepalive, this.logger, (c) => this.connections.delete(c));
    this.connections.add(conn);
  }

  establish(
    conn: Connection,
    req: LoginRequest,
    params: SessionParameters,
    target: LoginTarget | undefined,
  ): Session | { status: number; reason: string } {
    if (this.stopping) return { status: LoginStatus.serviceUnavailable, reason: "target shutting down" };
    const isid = isidHex(req.isid);
    let tsih: number | undefined;
    if (req.tsih !== 0) {
      const existing = this.sessions.get(req.tsih);
      const oldConn = existing ? this.sessionConnection.get(existing) : undefined;
      const sameNexus =
        existing !== undefined &&
        existing.isid === isid &&
        existing.params.initiatorName === params.initiatorName &&
        existing.targetName === params.targetName;
      if (!existing || !sameNexus) {
        // Unknown (e.g. the target restarted): the initiator retries with TSIH 0.
        return { status: LoginStatus.sessionDoesNotExist, reason: `no session with TSIH ${req.tsih}` };
      }
      if (oldConn && oldConn.cid !== req.cid) {
        return { status: LoginStatus.tooManyConnections, reason: "MaxConnections=1" };
      }
      // Connection reinstatement at ErrorRecoveryLevel 0 (RFC 7143 §6.3.4): the old connection and
      // its tasks end; the session continues under the same TSIH on the new connection.
      this.logger.info(
        { tsih: existing.tsih, initiator: params.initiatorName, isid },
        "connection reinstatement",
      );
      existing.close("connection reinstated");
      oldConn?.drop("connection reinstated");
      tsih = existing.tsih;
    }
    // Session reinstatement (RFC 7143 §6.3.5): same initiator, ISID and target replace the old one.
    for (const old of this.sessions.values()) {
      if (
        old.isid === isid &&
        old.params.initiatorName === params.initiatorName &&
        old.targetName === params.targetName
      ) {
        this.logger.info({ tsih: old.tsih, initiator: params.initiatorName, isid }, "session reinstatement");
        const oldConn = this.sessionConnection.get(old);
        old.close("reinstated");
        oldConn?.drop("session reinstated");
      }
    }
    tsih ??= this.allocateTsih();
    const served = target as ServedTarget | undefined;
    const nexus: ItNexus | undefined = served
      ? {
          id: `${params.initiatorName},i,0x${isid},${served.name},t,${this.tpgt}`,
          initiatorName: params.initiatorName,
          isid,
          targetName: served.name,
          targetPortalGroupTag: this.tpgt,
          relativeTargetPortId: 1,
        }
      : undefined;
    const session = new Session(
      {
        tsih,
        isid,
        params,
        port: served?.port,
        nexus,
        initialCmdSN: req.cmdSN,
        queueDepth: this.queueDepth,
        logger: this.logger,
        ...(this.options.onCommandDone ? { onCommandDone: this.options.onCommandDone } : {}),
      },
      this,
    );
    this.sessions.set(tsih, session);
    this.sessionConnection.set(session, conn);
    if (nexus) served?.port.nexusLoggedIn(nexus);
    const summary = this.summarize(session);
    this.logger.info({ ...summary, loggedInAt: undefined }, "login");
    this.events.emit("login", summary);
    return session;
  }

  private allocateTsih(): number {
    for (;;) {
      const tsih = this.nextTsih;
      this.nextTsih = this.nextTsih >= 0xffff ? 1 : this.nextTsih + 1;
      if (!this.sessions.has(tsih)) return tsih;
    }
  }

  summarize(session: Session): SessionSummary {
    const conn = this.sessionConnection.get(session);
    return {
      tsih: session.tsih,
      target: session.targetName,
      initiator: session.params.initiatorName,
      isid: session.isid,
      remoteAddress: conn?.remoteAddress ?? "",
      loggedInAt: session.loggedInAt,
      headerDigest: session.params.headerDigest,
      dataDigest: session.params.dataDigest,
      sessionType: session.params.sessionType,
    };
  }

  listSessions(): SessionSummary[] {
    return [...this.sessions.values()].map((s) => this.summarize(s));
  }

  discoverTargets(session: Session, value: string): TextPairs {
    const conn = this.sessionConnection.get(session);
    const initiator = session.params.initiatorName;
    const visible: DiscoverableTarget[] = this.options
      .targets()
      .filter((t) => !t.allowedInitiators || t.allowedInitiators.includes(initiator))
      .map((t) => ({ name: t.name, addresses: this.addressesFor(conn) }));
    return sendTargetsAnswer(value, visible, session.targetName);
  }

  private addressesFor(conn: Connection | undefined): string[] {
    return this.boundPortals.map((p) => {
      // A wildcard portal is reported as the address the initiator actually reached.
      const wildcard = p.host === "0.0.0.0" || p.host === "::";
      const host = wildcard && conn ? conn.localAddress : p.host;
      return formatTargetAddress(host, p.port, this.tpgt);
    });
  }

  abortTasksOnTarget(targetName: string, lun: number | undefined, except: Session | undefined): void {
    for (const s of this.sessions.values()) {
      if (s !== except && s.targetName === targetName) s.abortTasks(lun);
    }
  }

  /** PREEMPT AND ABORT: abort the tasks on `lun` of the sessions whose nexus key is in `keys`. */
  abortNexusTasks(targetName: string, lun: number, keys: readonly string[]): void {
    for (const s of this.sessions.values()) {
      if (s.targetName === targetName && s.nexusKey !== undefined && keys.includes(s.nexusKey)) {
        s.abortTasks(lun);
      }
    }
  }

  dropTargetConnections(targetName: string): void {
    // After the TMF response is flushed: a cold reset ends every session of the target.
    setImmediate(() => {
      for (const [s, conn] of this.sessionConnection) {
        if (s.targetName === targetName) conn.endAfterFlush();
      }
    });
  }

  sessionClosed(session: Session, reason: string): void {
    if (this.sessions.get(session.tsih) !== session) return;
    const summary = this.summarize(session);
    this.sessions.delete(session.tsih);
    this.sessionConnection.delete(session);
    this.logger.info(
      { tsih: summary.tsih, initiator: summary.initiator, target: summary.target, reason },
      "logout",
    );
    this.events.emit("logout", { ...summary, reason });
  }

  /** Sessions of a target (to tell them LUNs changed, or to end them). */
  sessionsOf(targetName: string): Session[] {
    return [...this.sessions.values()].filter((s) => s.targetName === targetName);
  }

  private hasNormalSessions(): boolean {
    for (const s of this.sessions.values()) if (s.params.sessionType === "Normal") return true;
    return false;
  }

  /** Stop accepting, let running commands finish (up to drainMs), then close every connection. */
  async close(drainMs = 5000): Promise<void> {
    this.stopping = true;
    // server.close() completes only once every connection is gone: start it, drain, then drop.
    const closed = Promise.all(
      this.servers.map((s) => new Promise<void>((resolve) => s.close(() => resolve()))),
    );
    // Ask initiators to log out (they finish their commands first); give them a moment, then
    // let what is still running drain before the connections go.
    const deadline = Date.now() + drainMs;
    for (const s of this.sessions.values()) s.requestLogout(Math.max(1, Math.ceil(drainMs / 1000)));
    const logoutWait = Date.now() + Math.min(drainMs, 2000);
    while (this.hasNormalSessions() && Date.now() < logoutWait) await new Promise((r) => setTimeout(r, 20));
    await Promise.all([...this.sessions.values()].map((s) => s.drain(Math.max(0, deadline - Date.now()))));
    for (const conn of [...this.connections]) conn.drop("target shutdown");
    await closed;
    this.servers.length = 0;
  }
}
