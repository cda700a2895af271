// livesnap volume list|create|delete|resize
import type { Volume } from "@livesnap/protocol";
import { type CommandSpec, printJson, stringFlag } from "../command.js";
import { formatBytes, formatTime, parseInteger, parseSize, table } from "../format.js";

function volumeRows(volumes: Volume[]): string {
  return table(
    ["NAME", "SIZE", "ALLOCATED", "BLOCK", "CHUNK", "SNAPSHOTS", "CREATED"],
    volumes.map((v) => [
      v.name,
      formatBytes(v.sizeBytes),
      formatBytes(v.allocatedBytes),
      String(v.blockSize),
      formatBytes(v.chunkSize),
      String(v.snapshotCount),
      formatTime(v.createdAt),
    ]),
  );
}

export const volumeCommands: CommandSpec[] = [
  {
    path: ["volume", "list"],
    summary: "List volumes",
    args: [],
    async run(run) {
      const { volumes } = await run.call("volume.list", {});
      if (run.json) printJson(run, volumes);
      else run.io.stdout(volumes.length ? volumeRows(volumes) : "no volumes\n");
      return 0;
    },
  },
  {
    path: ["volume", "create"],
    summary: "Create a thin-provisioned volume (exported as a LUN)",
    args: ["<name>", "<size>"],
    flags: {
      "block-size": { type: "string", value: "<512|4096>", description: "Logical block size (default 512)" },
      "chunk-size": {
        type: "string",
        value: "<size>",
        description: "Copy-on-write chunk size, a power of two",
      },
    },
    details: "Sizes take binary units: 512M, 10G, 1.5TiB, or a byte count.",
    async run(run) {
      const [name, size] = run.positionals as [string, string];
      const blockSize = stringFlag(run, "block-size");
      const chunkSize = stringFlag(run, "chunk-size");
      const { volume } = await run.call("volume.create", {
        name,
        sizeBytes: parseSize(size),
        ...(blockSize !== undefined
          ? { blockSize: parseInteger(blockSize, "--block-size") as 512 | 4096 }
          : {}),
        ...(chunkSize !== undefined ? { chunkSize: parseSize(chunkSize, "--chunk-size") } : {}),
      });
      if (run.json) printJson(run, volume);
      else run.io.stdout(`created volume ${volume.name} (${formatBytes(volume.sizeBytes)})\n`);
      return 0;
    },
  },
  {
    path: ["volume", "delete"],
    summary: "Delete a volume and all its snapshots",
    args: ["<name>"],
    async run(run) {
      const [name] = run.positionals as [string];
      await run.call("volume.delete", { volume: name });
      if (run.json) printJson(run, { deleted: name });
      else run.io.stdout(`deleted volume ${name}\n`);
      return 0;
    },
  },
  {
    path: ["volume", "resize"],
    summary: "Change a volume's size",
    args: ["<name>", "<size>"],
    async run(run) {
      const [name, size] = run.positionals as [string, string];
      const { volume } = await run.call("volume.resize", {
        volume: name,
        sizeBytes: parseSize(size),
      });
      if (run.json) printJson(run, volume);
      else run.io.stdout(`volume ${volume.name} is now ${formatBytes(volume.sizeBytes)}\n`);
      return 0;
    },
  },
];
