// readIntoBuffer over a real loopback connection: every byte arrives in order through the reused
// read buffer, writes and close still work on the new socket, and the net server it came from
// can still close. If a Node upgrade removes the handle move, the transient check fails loudly
// (the target would still work, through the 'data' fallback, but allocate per read again).
import { randomBytes } from "node:crypto";
import { connect, createServer, type Socket } from "node:net";
import { describe, expect, it } from "vitest";
import { READ_BUFFER_BYTES, readIntoBuffer } from "../../src/iscsi/read-buffer.js";

describe("readIntoBuffer", () => {
  it("delivers a 4 MiB stream in order through one reused buffer, then echoes and closes", async () => {
    const payload = randomBytes(4 * 1024 * 1024);
    const received: Buffer[] = [];
    const transients = new Set<boolean>();
    const buffers = new Set<ArrayBufferLike>();
    let serverSide: Socket | undefined;
    const server = createServer({ pauseOnConnect: true }, (accepted) => {
      const socket = readIntoBuffer(accepted, (chunk, transient) => {
        transients.add(transient);
        buffers.add(chunk.buffer);
        expect(chunk.length).toBeLessThanOrEqual(READ_BUFFER_BYTES);
        received.push(Buffer.from(chunk)); // valid only now: copied
        if (received.reduce((n, b) => n + b.length, 0) === payload.length) socket.end("done");
      });
      serverSide = socket;
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const address = server.address();
    const port = typeof address === "object" && address ? address.port : 0;
    const client = connect(port, "127.0.0.1");
    const reply: Buffer[] = [];
    client.on("data", (d: Buffer) => reply.push(d));
    for (let at = 0; at < payload.length; at += 100_000) client.write(payload.subarray(at, at + 100_000));
    await new Promise<void>((resolve) => client.on("end", resolve));
    client.end();
    await new Promise<void>((resolve) => client.on("close", resolve));
    // The moved socket ends like any other: closed once both sides have ended.
    await new Promise<void>((resolve) =>
      serverSide?.destroyed ? resolve() : serverSide?.once("close", resolve),
    );
    await new Promise<void>((resolve) => server.close(() => resolve()));

    expect(Buffer.concat(reply).toString()).toBe("done");
    expect(Buffer.concat(received).equals(payload)).toBe(true);
    expect([...transients]).toEqual([true]);
    expect(buffers.size).toBe(1);
  });
});
