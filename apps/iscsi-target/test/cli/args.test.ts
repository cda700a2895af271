// The command line without a daemon: help, usage errors and their exit codes, sizes, the block-map picture.
import { decodeBlockMap, encodeBlockMap } from "@livesnap/protocol";
import { describe, expect, it } from "vitest";
import { renderBlockMap } from "../../src/cli/blockmap-render.js";
import type { CliIO } from "../../src/cli/command.js";
import { EXIT } from "../../src/cli/errors.js";
import { formatBytes, parseSize, table } from "../../src/cli/format.js";
import { commands, main } from "../../src/cli/main.js";

function capture(env: NodeJS.ProcessEnv = {}) {
  const out: string[] = [];
  const err: string[] = [];
  const io: CliIO = {
    stdout: (t) => out.push(t),
    stderr: (t) => err.push(t),
    env,
    interactive: false,
    color: false,
  };
  return { io, out: () => out.join(""), err: () => err.join("") };
}

describe("livesnap command line", () => {
  it("shows an overview listing every command", async () => {
    const c = capture();
    expect(await main(["--help"], c.io)).toBe(EXIT.ok);
    for (const spec of commands) expect(c.out()).toContain(spec.path.join(" "));
  });

  for (const spec of commands) {
    it(`${spec.path.join(" ")} --help`, async () => {
      const c = capture();
      expect(await main([...spec.path, "--help"], c.io)).toBe(EXIT.ok);
      expect(c.out()).toContain(`usage: livesnap ${spec.path.join(" ")}`);
      expect(c.out()).toContain("--json");
      expect(c.err()).toBe("");
    });
  }

  it("rejects unknown commands, flags and missing or extra arguments with exit code 2", async () => {
    const cases: [string[], RegExp][] = [
      [["frobnicate"], /unknown command "frobnicate"/],
      [["volume"], /"volume" needs a subcommand; one of: list, create, delete, resize/],
      [["volume", "shrink"], /unknown command "volume shrink"/],
      [["volume", "create", "v"], /missing <size>/],
      [["volume", "list", "extra"], /unexpected argument "extra"/],
      [["volume", "list", "--colour"], /Unknown option '--colour'/],
      [["group", "snapshot", "g"], /missing <volume\.\.\.>/],
      [["volume", "create", "v", "12parsecs", "--token", "t"], /size: "12parsecs" is not a size/],
      [["blockmap", "v", "--width", "wide", "--token", "t"], /--width: "wide" is not an integer/],
      [["serve", "--portal", "nowhere"], /--portal: "nowhere" is not host:port/],
    ];
    for (const [argv, message] of cases) {
      const c = capture();
      expect(await main(argv, c.io), argv.join(" ")).toBe(EXIT.usage);
      expect(c.err()).toMatch(message);
    }
  });

  it("explains a missing token with exit code 4", async () => {
    const c = capture({ LIVESNAP_DATA_DIR: "/nonexistent/livesnap" });
    expect(await main(["volume", "list"], c.io)).toBe(EXIT.unauthorized);
    expect(c.err()).toMatch(/no API token.*\/nonexistent\/livesnap\/api-token/);
  });

  it("reports an unreachable daemon with exit code 3", async () => {
    const c = capture();
    // Port 9 (discard) on loopback: nothing listens there in a test environment.
    expect(await main(["volume", "list", "--url", "http://127.0.0.1:9", "--token", "t"], c.io)).toBe(
      EXIT.unreachable,
    );
    expect(c.err()).toMatch(/cannot reach http:\/\/127\.0\.0\.1:9/);
  });
});

describe("formatting", () => {
  it("parses binary sizes", () => {
    expect(parseSize("4096")).toBe(4096);
    expect(parseSize("64k")).toBe(65536);
    expect(parseSize("512M")).toBe(512 * 2 ** 20);
    expect(parseSize("1.5GiB")).toBe(1.5 * 2 ** 30);
    expect(parseSize("2 TB")).toBe(2 * 2 ** 40);
    expect(() => parseSize("1.0000001")).toThrow(/whole number/);
    expect(() => parseSize("-1G")).toThrow(/not a size/);
  });

  it("formats bytes and tables", () => {
    expect(formatBytes(512)).toBe("512 B");
    expect(formatBytes(1536)).toBe("1.5 KiB");
    expect(formatBytes(2 ** 30)).toBe("1 GiB");
    expect(
      table(
        ["NAME", "SIZE"],
        [
          ["a", "10"],
          ["bbb", "2"],
        ],
      ),
    ).toBe("NAME  SIZE\na       10\nbbb      2\n");
  });

  it("draws one character per bucket with a legend", () => {
    // 4 buckets: empty, full of data, half data, one chunk preserved in s1 + written since.
    const classes = ["unallocated", "shared", "written", "preserved:s1"];
    const counts = Uint32Array.from([4, 0, 0, 0, 0, 4, 0, 0, 2, 2, 0, 0, 1, 1, 1, 1]);
    const map = decodeBlockMap(
      encodeBlockMap({ start: 0, end: 16 * 65536, chunkSize: 65536, buckets: 4, classes, counts }),
    );
    const text = renderBlockMap(map, { width: 2, color: false });
    const lines = text.split("\n");
    expect(lines[0]).toMatch(/^\s*0 B \|\.#\|$/);
    expect(lines[1]).toMatch(/^\s*512 KiB \|#\+\|$/);
    expect(text).toContain("one character = 256 KiB");
    expect(text).toContain("a preserved in snapshot s1");
    expect(text).toContain("+ written since");
  });
});
