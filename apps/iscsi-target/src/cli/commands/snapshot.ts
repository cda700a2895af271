// livesnap snapshot create|list|delete|rollback|expose|withdraw, livesnap group snapshot
import { createClient, type Snapshot, wsTransport } from "@livesnap/protocol";
import WebSocket from "ws";
import { type CommandSpec, printJson, stringFlag } from "../command.js";
import { CliError, EXIT } from "../errors.js";
import { formatBytes, formatTime, parseInteger, table } from "../format.js";
import { ProgressBar } from "../progress.js";

function snapshotRows(snapshots: Snapshot[]): string {
  return table(
    ["NAME", "CREATED", "SEQ", "PRESERVED", "VALID", "GROUP"],
    snapshots.map((s) => [
      s.name,
      formatTime(s.createdAt),
      String(s.seq),
      formatBytes(s.preservedBytes),
      s.valid ? "yes" : `no (${s.invalidReason ?? "invalid"})`,
      s.group ?? "",
    ]),
  );
}

/** Snapshot names default to a timestamp, like most storage CLIs. */
function defaultName(): string {
  return `snap-${new Date()
    .toISOString()
    .replace(/[-:]/g, "")
    .replace(/\.\d+Z$/, "Z")}`;
}

export const snapshotCommands: CommandSpec[] = [
  {
    path: ["snapshot", "create"],
    summary: "Take a live snapshot (no pause: writes admitted before it belong to it)",
    args: ["<volume>", "[name]"],
    async run(run) {
      const [volume, name = defaultName()] = run.positionals as [string, string?];
      const { snapshot } = await run.call("snapshot.create", { volume, name });
      if (run.json) printJson(run, snapshot);
      else run.io.stdout(`created snapshot ${volume}@${snapshot.name} (seq ${snapshot.seq})\n`);
      return 0;
    },
  },
  {
    path: ["snapshot", "list"],
    summary: "List a volume's snapshots, oldest first",
    args: ["<volume>"],
    async run(run) {
      const [volume] = run.positionals as [string];
      const { snapshots } = await run.call("snapshot.list", { volume });
      if (run.json) printJson(run, snapshots);
      else run.io.stdout(snapshots.length ? snapshotRows(snapshots) : `volume ${volume} has no snapshots\n`);
      return 0;
    },
  },
  {
    path: ["snapshot", "delete"],
    summary: "Delete a snapshot (its LUN, if exposed, is withdrawn first)",
    args: ["<volume>", "<snapshot>"],
    async run(run) {
      const [volume, snapshot] = run.positionals as [string, string];
      await run.call("snapshot.delete", { volume, snapshot });
      if (run.json) printJson(run, { deleted: `${volume}@${snapshot}` });
      else run.io.stdout(`deleted snapshot ${volume}@${snapshot}\n`);
      return 0;
    },
  },
  {
    path: ["snapshot", "rollback"],
    summary: "Restore a volume to a snapshot's contents (with a progress bar)",
    args: ["<volume>", "<snapshot>"],
    async run(run) {
      const [volume, snapshot] = run.positionals as [string, string];
      // Over a WebSocket, so the daemon's rollback.progress events can drive the bar.
      const client = createClient(
        await wsTransport({ ...(await run.connection()), connect: (url) => new WebSocket(url) }),
      );
      try {
        const bar = { current: undefined as ProgressBar | undefined };
        client.on("rollback.progress", (p) => {
          if (p.snapshot !== snapshot) return;
          bar.current ??= new ProgressBar(
            p.totalChunks,
            run.io.stderr,
            run.io.interactive && !run.json,
            `rollback ${volume} to ${snapshot}`,
            (n) => `${n} chunks`,
          );
          bar.current.update(p.doneChunks, p.doneChunks === p.totalChunks);
        });
        await client.call("events.subscribe", { events: ["rollback.progress"], volumes: [volume] });
        const result = await client.call("snapshot.rollback", { volume, snapshot });
        bar.current?.finish();
        if (run.json) printJson(run, result.volume);
        else run.io.stdout(`rolled back ${volume} to ${snapshot}\n`);
      } finally {
        await client.close();
      }
      return 0;
    },
  },
  {
    path: ["snapshot", "expose"],
    summary: "Export a snapshot as a read-only LUN of its volume's target",
    args: ["<volume>", "<snapshot>"],
    flags: { lun: { type: "string", value: "<n>", description: "LUN number (default: the next free one)" } },
    async run(run) {
      const [volume, snapshot] = run.positionals as [string, string];
      const lun = stringFlag(run, "lun");
      const result = await run.call("snapshot.expose", {
        volume,
        snapshot,
        ...(lun !== undefined ? { lun: parseInteger(lun, "--lun", 1) } : {}),
      });
      if (run.json) printJson(run, result.lun);
      else
        run.io.stdout(
          `${volume}@${snapshot} is LUN ${result.lun.lun} of ${result.lun.target}\n${result.lun.url}\n`,
        );
      return 0;
    },
  },
  {
    path: ["snapshot", "withdraw"],
    summary: "Withdraw a snapshot's LUN (sessions see REPORTED LUNS DATA HAS CHANGED)",
    args: ["<volume>", "<snapshot>"],
    async run(run) {
      const [volume, snapshot] = run.positionals as [string, string];
      const client = await run.client();
      const { targets } = await client.call("target.list", {});
      const luns = targets
        .flatMap((t) => t.luns)
        .filter(
          (l) => l.source.kind === "snapshot" && l.source.volume === volume && l.source.snapshot === snapshot,
        );
      if (luns.length === 0)
        throw new CliError(`${volume}@${snapshot} is not exposed as a LUN`, EXIT.notFound);
      for (const lun of luns) await client.call("lun.withdraw", { target: lun.target, lun: lun.lun });
      if (run.json) printJson(run, { withdrawn: luns });
      else for (const lun of luns) run.io.stdout(`withdrew LUN ${lun.lun} of ${lun.target}\n`);
      return 0;
    },
  },
  {
    path: ["group", "snapshot"],
    summary: "Snapshot several volumes at one instant (a consistency group)",
    args: ["<name>", "<volume...>"],
    details: "Every volume gets a snapshot called <name>, all at one admission point, with no pause.",
    async run(run) {
      const [name, ...volumes] = run.positionals as [string, ...string[]];
      const result = await run.call("group.snapshot", {
        entries: volumes.map((volume) => ({ volume, snapshot: name })),
      });
      if (run.json) printJson(run, result);
      else {
        run.io.stdout(`created group snapshot ${name}${result.group ? ` (group ${result.group})` : ""}\n`);
        run.io.stdout(snapshotRows(result.snapshots.map((s) => ({ ...s, name: `${s.volume}@${s.name}` }))));
      }
      return 0;
    },
  },
];
