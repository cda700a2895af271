// Every method's params: a valid example round-trips through JSON and validation unchanged, and
// each malformed variant is rejected with the offending field named.
import { describe, expect, it } from "vitest";
import {
  createDispatcher,
  encodeBlockMap,
  events,
  type Handlers,
  type MethodName,
  methodNames,
  methods,
} from "../src/index.js";

const validParams: { [M in MethodName]: unknown } = {
  hello: { protocolVersion: 1, client: "test" },
  auth: { token: "t" },
  "events.subscribe": { events: ["snapshot.created"], volumes: ["vol1"] },
  "events.unsubscribe": {},
  "target.list": {},
  "session.list": {},
  "volume.list": {},
  "volume.get": { volume: "vol1" },
  "volume.create": { name: "vol1", sizeBytes: 1 << 30, blockSize: 4096, chunkSize: 65536 },
  "volume.delete": { volume: "vol1" },
  "volume.resize": { volume: "vol1", sizeBytes: 2 ** 31 },
  "snapshot.create": { volume: "vol1", name: "s1" },
  "snapshot.list": { volume: "vol1" },
  "snapshot.delete": { volume: "vol1", snapshot: "s1" },
  "snapshot.rollback": { volume: "vol1", snapshot: "s1" },
  "snapshot.expose": { volume: "vol1", snapshot: "s1", lun: 3 },
  "lun.withdraw": { target: "iqn.2026-11.dev.livesnap:vol1", lun: 3 },
  "group.snapshot": {
    entries: [
      { volume: "a", snapshot: "g1" },
      { volume: "b", snapshot: "g1" },
    ],
  },
  "blockmap.get": { volume: "vol1", snapshot: "s1", start: 0, end: 1 << 20, buckets: 64, since: "s0" },
  "chunks.changed": { volume: "vol1", from: "s1", to: "s2" },
  "stats.get": { volume: "vol1" },
};

/** [method, params, field that must be named]. */
const malformed: [MethodName, unknown, string][] = [
  ["hello", {}, "params.protocolVersion"],
  ["hello", { protocolVersion: "1" }, "params.protocolVersion"],
  ["auth", { token: "" }, "params.token"],
  ["events.subscribe", { events: ["no.such.event"] }, "params.events.0"],
  ["events.unsubscribe", { extra: 1 }, "params"],
  ["target.list", { verbose: true }, "params"],
  ["session.list", [], "params"],
  ["volume.list", "x", "params"],
  ["volume.get", {}, "params.volume"],
  ["volume.create", { sizeBytes: 4096 }, "params.name"],
  ["volume.create", { name: "v", sizeBytes: -1 }, "params.sizeBytes"],
  ["volume.create", { name: "v", sizeBytes: 1.5 }, "params.sizeBytes"],
  ["volume.create", { name: "../etc", sizeBytes: 4096 }, "params.name"],
  ["volume.create", { name: "v", sizeBytes: 4096, blockSize: 1024 }, "params.blockSize"],
  ["volume.create", { name: "v", sizeBytes: 4096, chunkSize: 12288 }, "params.chunkSize"],
  ["volume.create", { name: "v", sizeBytes: 4096, sizeGb: 1 }, "params"],
  ["volume.delete", { volume: 7 }, "params.volume"],
  ["volume.resize", { volume: "v" }, "params.sizeBytes"],
  ["snapshot.create", { volume: "v", name: "" }, "params.name"],
  ["snapshot.list", {}, "params.volume"],
  ["snapshot.delete", { volume: "v" }, "params.snapshot"],
  ["snapshot.rollback", { volume: "v", snapshot: "a b" }, "params.snapshot"],
  ["snapshot.expose", { volume: "v", snapshot: "s", lun: 0 }, "params.lun"],
  ["lun.withdraw", { target: "t", lun: -1 }, "params.lun"],
  ["group.snapshot", { entries: [] }, "params.entries"],
  [
    "group.snapshot",
    {
      entries: [
        { volume: "a", snapshot: "x" },
        { volume: "a", snapshot: "y" },
      ],
    },
    "params.entries",
  ],
  ["group.snapshot", { entries: [{ volume: "a" }] }, "params.entries.0.snapshot"],
  ["blockmap.get", { volume: "v" }, "params.buckets"],
  ["blockmap.get", { volume: "v", buckets: 70000 }, "params.buckets"],
  ["blockmap.get", { volume: "v", buckets: 8, start: 100, end: 50 }, "params.end"],
  ["chunks.changed", { volume: "v" }, "params.from"],
  ["stats.get", { volume: "" }, "params.volume"],
];

describe("method table", () => {
  it("has a valid example for every method", () => {
    expect(Object.keys(validParams).sort()).toEqual([...methodNames].sort());
  });

  for (const method of methodNames) {
    it(`${method}: valid params round-trip through JSON`, () => {
      const wire = JSON.parse(JSON.stringify(validParams[method]));
      expect(methods[method].params.parse(wire)).toEqual(validParams[method]);
    });
  }

  it("every method has at least one malformed case", () => {
    const covered = new Set(malformed.map(([m]) => m));
    expect(methodNames.filter((m) => !covered.has(m))).toEqual([]);
  });

  // The dispatcher is what a real server answers with: check the error a client actually receives.
  const neverCalled = new Proxy({} as Handlers<null>, {
    get: () => () => {
      throw new Error("handler must not run for malformed params");
    },
  });
  const dispatcher = createDispatcher(neverCalled);

  for (const [method, params, field] of malformed) {
    it(`${method} rejects ${JSON.stringify(params)} naming ${field}`, async () => {
      const answer = JSON.parse(
        (await dispatcher.handleText(JSON.stringify({ jsonrpc: "2.0", id: 1, method, params }), null))!,
      );
      expect(answer.error.code).toBe(-32602);
      expect(answer.error.data.kind).toBe("invalid-params");
      const fields = answer.error.data.issues.map((i: { field: string }) => i.field);
      expect(fields).toContain(field);
      expect(answer.error.message).toContain(field);
    });
  }
});

describe("results and events", () => {
  const volume = {
    name: "vol1",
    id: "0b0e0c4e-2b8a-4a43-9d7c-0d1f6d1f7a10",
    sizeBytes: 1 << 30,
    blockSize: 512,
    chunkSize: 65536,
    createdAt: "2026-11-24T23:00:00.000Z",
    snapshotCount: 1,
    allocatedBytes: 65536,
  };
  const snapshot = {
    name: "s1",
    id: "7",
    volume: "vol1",
    createdAt: "2026-11-24T23:00:01.000Z",
    seq: 42,
    preservedChunks: 2,
    preservedBytes: 131072,
    valid: true,
    group: "g",
  };

  it("round-trip through JSON", () => {
    const samples: [{ parse(v: unknown): unknown }, unknown][] = [
      [methods["volume.list"].result, { volumes: [volume] }],
      [methods["snapshot.create"].result, { snapshot }],
      [
        methods["blockmap.get"].result,
        encodeBlockMap({
          start: 0,
          end: 1 << 20,
          chunkSize: 65536,
          buckets: 4,
          classes: ["unallocated", "shared"],
          counts: Uint32Array.from([4, 0, 2, 2, 0, 4, 1, 3]),
        }),
      ],
      [methods["chunks.changed"].result, { chunkSize: 65536, ranges: [{ offset: 0, length: 65536 }] }],
      [events["blockmap.delta"], { volume: "vol1", chunkSize: 65536, runs: [[0, 3]] }],
      [
        events["session.login"],
        {
          id: 1,
          target: "iqn.x",
          initiator: "iqn.y",
          isid: "400001370000",
          remoteAddress: "127.0.0.1:5000",
          connections: 1,
          loggedInAt: "2026-11-24T23:00:00.000Z",
          headerDigest: "None",
          dataDigest: "CRC32C",
        },
      ],
      [
        events["lun.changed"],
        {
          iqn: "iqn.x",
          portals: [{ host: "127.0.0.1", port: 3260 }],
          luns: [
            {
              target: "iqn.x",
              lun: 1,
              source: { kind: "snapshot", volume: "vol1", snapshot: "s1" },
              readOnly: true,
              url: "iscsi://127.0.0.1:3260/iqn.x/1",
            },
          ],
        },
      ],
    ];
    for (const [schema, value] of samples) {
      expect(schema.parse(JSON.parse(JSON.stringify(value)))).toEqual(value);
    }
  });

  it("a snapshot without its seq is not a snapshot", () => {
    const { seq: _seq, ...rest } = snapshot;
    expect(methods["snapshot.create"].result.safeParse({ snapshot: rest }).error?.issues[0]?.path).toEqual([
      "snapshot",
      "seq",
    ]);
  });
});
