// Dispatcher + client wired through an in-memory transport: the typed client and the server agree on
// every envelope, error and push.
import { describe, expect, it } from "vitest";
import {
  createClient,
  createDispatcher,
  type Handlers,
  PROTOCOL_VERSION,
  RpcError,
  type RpcTransport,
} from "../src/index.js";

interface Ctx {
  calls: string[];
}

function handlers(): Handlers<Ctx> {
  const fail = () => {
    throw new RpcError("not-supported", "not in this test");
  };
  return {
    hello: (p) => ({ protocolVersion: p.protocolVersion, serverVersion: "0.0.0", methods: [], events: [] }),
    auth: () => ({}),
    "events.subscribe": () => ({ events: ["snapshot.created"] }),
    "events.unsubscribe": () => ({}),
    "target.list": () => ({ targets: [] }),
    "session.list": () => ({ sessions: [] }),
    "volume.list": (_p, ctx) => {
      ctx.calls.push("volume.list");
      return { volumes: [] };
    },
    "volume.get": () => {
      throw new RpcError("not-found", 'volume "nope" does not exist');
    },
    "volume.create": fail,
    "volume.delete": () => {
      throw new Error("disk on fire");
    },
    // A buggy handler: its result does not match the table.
    "volume.resize": () => ({ volume: { name: "x" } }) as never,
    "snapshot.create": fail,
    "snapshot.list": fail,
    "snapshot.delete": fail,
    "snapshot.rollback": fail,
    "snapshot.expose": fail,
    "lun.withdraw": fail,
    "group.snapshot": fail,
    "blockmap.get": fail,
    "chunks.changed": fail,
    "stats.get": fail,
  };
}

const dispatcher = createDispatcher(handlers());
const ask = async (text: string) => {
  const out = await dispatcher.handleText(text, { calls: [] });
  return out === undefined ? undefined : JSON.parse(out);
};

describe("dispatcher", () => {
  it("answers a valid request", async () => {
    expect(await ask('{"jsonrpc":"2.0","id":7,"method":"volume.list","params":{}}')).toEqual({
      jsonrpc: "2.0",
      id: 7,
      result: { volumes: [] },
    });
  });

  it("treats missing params as {}", async () => {
    expect((await ask('{"jsonrpc":"2.0","id":"a","method":"session.list"}')).result).toEqual({
      sessions: [],
    });
  });

  it("reports a parse error", async () => {
    const answer = await ask("{not json");
    expect(answer.id).toBeNull();
    expect(answer.error.code).toBe(-32700);
    expect(answer.error.data.kind).toBe("parse-error");
  });

  it("reports an invalid envelope naming the field", async () => {
    const answer = await ask('{"jsonrpc":"1.0","id":3,"method":"volume.list"}');
    expect(answer.id).toBe(3);
    expect(answer.error.code).toBe(-32600);
    expect(answer.error.data.issues[0].field).toBe("jsonrpc");
  });

  it("reports an unknown method", async () => {
    const answer = await ask('{"jsonrpc":"2.0","id":1,"method":"volume.explode","params":{}}');
    expect(answer.error.code).toBe(-32601);
    expect(answer.error.message).toContain("volume.explode");
  });

  it("passes typed handler errors through and hides untyped ones as internal", async () => {
    const notFound = await ask('{"jsonrpc":"2.0","id":1,"method":"volume.get","params":{"volume":"nope"}}');
    expect(notFound.error.data.kind).toBe("not-found");
    const internal = await ask('{"jsonrpc":"2.0","id":2,"method":"volume.delete","params":{"volume":"v"}}');
    expect(internal.error.data.kind).toBe("internal");
    expect(internal.error.message).toBe("disk on fire");
  });

  it("refuses to send a result that breaks the contract", async () => {
    const answer = await ask(
      '{"jsonrpc":"2.0","id":1,"method":"volume.resize","params":{"volume":"v","sizeBytes":1}}',
    );
    expect(answer.error.data.kind).toBe("internal");
    expect(answer.error.message).toMatch(/invalid result/);
  });

  it("answers batches and stays silent for notifications", async () => {
    expect(await ask('{"jsonrpc":"2.0","method":"volume.list"}')).toBeUndefined();
    const answers = await ask(
      '[{"jsonrpc":"2.0","id":1,"method":"volume.list"},{"jsonrpc":"2.0","method":"volume.list"},{"jsonrpc":"2.0","id":2,"method":"x"}]',
    );
    expect(answers.map((a: { id: number }) => a.id)).toEqual([1, 2]);
    expect((await ask("[]")).error.data.kind).toBe("invalid-request");
  });

  it("runs the before hook, which can refuse", async () => {
    const guarded = createDispatcher(handlers(), {
      before: (method) => {
        if (method !== "auth") throw new RpcError("unauthorized", "authenticate first");
      },
    });
    const answer = JSON.parse(
      (await guarded.handleText('{"jsonrpc":"2.0","id":1,"method":"volume.list"}', { calls: [] }))!,
    );
    expect(answer.error.code).toBe(-32001);
  });
});

describe("client", () => {
  function loopback(): RpcTransport & { push(method: string, params: unknown): void } {
    const listeners = new Set<(m: string, p: unknown) => void>();
    return {
      request: async (message) =>
        JSON.parse((await dispatcher.handleText(JSON.stringify(message), { calls: [] })) ?? "null"),
      onNotification(listener) {
        listeners.add(listener);
        return () => listeners.delete(listener);
      },
      push(method, params) {
        for (const l of listeners) l(method, params);
      },
      async close() {},
    };
  }

  it("calls methods with typed results", async () => {
    const client = createClient(loopback());
    const hello = await client.call("hello", { protocolVersion: PROTOCOL_VERSION });
    expect(hello.protocolVersion).toBe(PROTOCOL_VERSION);
    expect((await client.call("volume.list", {})).volumes).toEqual([]);
  });

  it("throws RpcError with the server's kind", async () => {
    const client = createClient(loopback());
    const err = await client.call("volume.get", { volume: "nope" }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RpcError);
    expect((err as RpcError).kind).toBe("not-found");
  });

  it("validates params before sending", async () => {
    let sent = 0;
    const client = createClient({
      request: async () => {
        sent++;
        return null;
      },
      close: async () => {},
    });
    const err = (await client
      .call("volume.create", { name: "v", sizeBytes: -5 })
      .catch((e: unknown) => e)) as RpcError;
    expect(err.kind).toBe("invalid-params");
    expect(err.issues?.[0]?.field).toBe("params.sizeBytes");
    expect(sent).toBe(0);
  });

  it("delivers valid pushes and drops invalid ones", async () => {
    const transport = loopback();
    const invalid: string[] = [];
    const client = createClient(transport, { onInvalidEvent: (e) => invalid.push(e) });
    const seen: unknown[] = [];
    const off = client.on("volume.deleted", (p) => seen.push(p.volume));
    transport.push("volume.deleted", { volume: "v1" });
    transport.push("volume.deleted", { volume: 3 });
    transport.push("something.else", {});
    off();
    transport.push("volume.deleted", { volume: "v2" });
    expect(seen).toEqual(["v1"]);
    expect(invalid).toEqual(["volume.deleted"]);
  });
});
