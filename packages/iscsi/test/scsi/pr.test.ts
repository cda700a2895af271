import { describe, expect, it } from "vitest";
import { createScsiTargetPort, nexusKey, type PersistedReservations } from "../../src/index.js";
import { be, cdb10, Harness, nexus, senseOf } from "./harness.js";
import { MemoryBackend } from "./memory-backend.js";

const GOOD = 0;
const CONFLICT = 0x18;
const A = nexus(1);
const B = nexus(2, "iqn.2026-01.test:other");
const C = nexus(3, "iqn.2026-01.test:third");

function params(key: bigint, saKey: bigint, flags = 0): Uint8Array {
  const p = new Uint8Array(24);
  const v = new DataView(p.buffer);
  v.setBigUint64(0, key);
  v.setBigUint64(8, saKey);
  p[20] = flags;
  return p;
}

const prout = (sa: number, type = 0) => [0x5f, sa, type, 0, 0, ...be(24, 4), 0];
const prin = (sa: number) => [0x5e, sa, 0, 0, 0, 0, 0, ...be(8192, 2), 0];

async function setup(): Promise<Harness> {
  const h = new Harness();
  h.target.nexusLoggedIn(B);
  h.target.nexusLoggedIn(C);
  for (const n of [A, B, C]) await h.clearUa(n);
  return h;
}

async function register(h: Harness, n: typeof A, key: bigint, flags = 0) {
  const r = await h.run(prout(0), { nexus: n, dataOut: params(0n, key, flags) });
  expect(r.status).toBe(GOOD);
}

async function keys(h: Harness): Promise<bigint[]> {
  const d = (await h.run(prin(0))).dataIn!;
  const v = new DataView(d.buffer, d.byteOffset);
  const out: bigint[] = [];
  for (let at = 8; at < 8 + v.getUint32(4); at += 8) out.push(v.getBigUint64(at));
  return out;
}

describe("PERSISTENT RESERVE OUT / IN", () => {
  it("REGISTER, READ KEYS, generation, unregister", async () => {
    const h = await setup();
    await register(h, A, 0xaan);
    await register(h, B, 0xbbn);
    expect(await keys(h)).toEqual([0xaan, 0xbbn]);
    const gen = new DataView((await h.run(prin(0))).dataIn!.buffer).getUint32(0);
    expect(gen).toBe(2);
    // Wrong current key: conflict; right key and 0: unregister.
    expect((await h.run(prout(0), { nexus: B, dataOut: params(0x1n, 0xccn) })).status).toBe(CONFLICT);
    expect((await h.run(prout(0), { nexus: B, dataOut: params(0xbbn, 0n) })).status).toBe(GOOD);
    expect(await keys(h)).toEqual([0xaan]);
    // REGISTER AND IGNORE EXISTING KEY.
    expect((await h.run(prout(6), { dataOut: params(0x99n, 0xabn) })).status).toBe(GOOD);
    expect(await keys(h)).toEqual([0xabn]);
  });

  it("WRITE EXCLUSIVE: others may read but not write; RELEASE and READ RESERVATION", async () => {
    const h = await setup();
    await register(h, A, 0xaan);
    await register(h, B, 0xbbn);
    expect((await h.run(prout(1, 1), { dataOut: params(0xaan, 0n) })).status).toBe(GOOD);
    const res = (await h.run(prin(1))).dataIn!;
    expect(new DataView(res.buffer).getUint32(4)).toBe(16);
    expect(new DataView(res.buffer).getBigUint64(8)).toBe(0xaan);
    expect(res[21]! & 0x0f).toBe(1);
    expect((await h.run(cdb10(0x28, 0, 1), { nexus: B })).status).toBe(GOOD);
    expect((await h.run(cdb10(0x2a, 0, 1), { nexus: B, dataOut: new Uint8Array(512) })).status).toBe(
      CONFLICT,
    );
    expect((await h.run(cdb10(0x2a, 0, 1), { nexus: C, dataOut: new Uint8Array(512) })).status).toBe(
      CONFLICT,
    );
    expect((await h.run(cdb10(0x2a, 0, 1), { dataOut: new Uint8Array(512) })).status).toBe(GOOD);
    expect(h.backend.open.size).toBe(0);
    // B cannot reserve; A releasing with the wrong type is an error.
    expect((await h.run(prout(1, 1), { nexus: B, dataOut: params(0xbbn, 0n) })).status).toBe(CONFLICT);
    expect(senseOf(await h.run(prout(2, 3), { dataOut: params(0xaan, 0n) }))).toMatchObject({ asc: 0x2604 });
    expect((await h.run(prout(2, 1), { dataOut: params(0xaan, 0n) })).status).toBe(GOOD);
    expect((await h.run(cdb10(0x2a, 0, 1), { nexus: B, dataOut: new Uint8Array(512) })).status).toBe(GOOD);
    // WE is not a registrants-only type: no RESERVATIONS RELEASED unit attention.
    expect((await h.run([0, 0, 0, 0, 0, 0], { nexus: B })).status).toBe(GOOD);
  });

  it("EXCLUSIVE ACCESS REGISTRANTS ONLY: registrants read and write, others conflict; release tells registrants", async () => {
    const h = await setup();
    await register(h, A, 0xaan);
    await register(h, B, 0xbbn);
    expect((await h.run(prout(1, 6), { dataOut: params(0xaan, 0n) })).status).toBe(GOOD);
    expect((await h.run(cdb10(0x28, 0, 1), { nexus: B })).status).toBe(GOOD);
    expect((await h.run(cdb10(0x28, 0, 1), { nexus: C })).status).toBe(CONFLICT);
    expect((await h.run(prout(2, 6), { dataOut: params(0xaan, 0n) })).status).toBe(GOOD);
    expect(senseOf(await h.run([0, 0, 0, 0, 0, 0], { nexus: B }))).toMatchObject({ key: 6, asc: 0x2a04 });
    expect((await h.run([0, 0, 0, 0, 0, 0], { nexus: C })).status).toBe(GOOD);
  });

  it("ALL REGISTRANTS: every registrant holds it; READ RESERVATION key is 0; survives the reserver leaving", async () => {
    const h = await setup();
    await register(h, A, 0xaan);
    await register(h, B, 0xbbn);
    expect((await h.run(prout(1, 8), { dataOut: params(0xaan, 0n) })).status).toBe(GOOD);
    const res = (await h.run(prin(1))).dataIn!;
    expect(new DataView(res.buffer).getBigUint64(8)).toBe(0n);
    expect((await h.run(cdb10(0x2a, 0, 1), { nexus: B, dataOut: new Uint8Array(512) })).status).toBe(GOOD);
    expect((await h.run(cdb10(0x28, 0, 1), { nexus: C })).status).toBe(CONFLICT);
    expect((await h.run(prout(0), { dataOut: params(0xaan, 0n) })).status).toBe(GOOD);
    expect((await h.run(cdb10(0x28, 0, 1), { nexus: C })).status).toBe(CONFLICT);
    expect((await h.run(prout(0), { nexus: B, dataOut: params(0xbbn, 0n) })).status).toBe(GOOD);
    expect((await h.run(cdb10(0x28, 0, 1), { nexus: C })).status).toBe(GOOD);
  });

  it("PREEMPT removes the holder's registration, takes the reservation, and tells the preempted", async () => {
    const h = await setup();
    await register(h, A, 0xaan);
    await register(h, B, 0xbbn);
    expect((await h.run(prout(1, 3), { nexus: B, dataOut: params(0xbbn, 0n) })).status).toBe(GOOD);
    expect((await h.run(prout(4, 3), { dataOut: params(0xaan, 0xbbn) })).status).toBe(GOOD);
    expect(await keys(h)).toEqual([0xaan]);
    expect(senseOf(await h.run([0, 0, 0, 0, 0, 0], { nexus: B }))).toMatchObject({ asc: 0x2a05 });
    expect((await h.run(cdb10(0x28, 0, 1), { nexus: B })).status).toBe(CONFLICT);
    // Preempting a key nobody holds is a conflict.
    expect((await h.run(prout(4, 3), { dataOut: params(0xaan, 0x77n) })).status).toBe(CONFLICT);
    // CLEAR drops everything and tells the other registrants.
    await register(h, C, 0xccn);
    expect((await h.run(prout(3), { dataOut: params(0xaan, 0n) })).status).toBe(GOOD);
    expect(await keys(h)).toEqual([]);
    expect(senseOf(await h.run([0, 0, 0, 0, 0, 0], { nexus: C }))).toMatchObject({ asc: 0x2a03 });
  });

  it("REPORT CAPABILITIES and READ FULL STATUS with iSCSI TransportIDs", async () => {
    const h = await setup();
    const caps = (await h.run(prin(2))).dataIn!;
    expect(caps.length).toBe(8);
    expect(caps[2]! & 0x01).toBe(1);
    await register(h, A, 0xaan);
    expect((await h.run(prout(1, 1), { dataOut: params(0xaan, 0n) })).status).toBe(GOOD);
    const full = (await h.run(prin(3))).dataIn!;
    const v = new DataView(full.buffer);
    expect(v.getBigUint64(8)).toBe(0xaan);
    expect(full[8 + 12]! & 0x01).toBe(1);
    const tidLen = v.getUint32(8 + 20);
    const tid = full.subarray(8 + 24, 8 + 24 + tidLen);
    expect(tid[0]).toBe(0x45);
    expect(new TextDecoder().decode(tid.subarray(4)).replace(/\0+$/, "")).toBe(
      "iqn.2026-01.test:init,i,0x400000000001",
    );
    expect(senseOf(await h.run(prin(4)))).toMatchObject({ asc: 0x2400 });
  });

  it("REGISTER AND MOVE hands the reservation to the nexus named by a TransportID", async () => {
    const h = await setup();
    await register(h, A, 0xaan);
    expect((await h.run(prout(1, 3), { dataOut: params(0xaan, 0n) })).status).toBe(GOOD);
    const name = new TextEncoder().encode("iqn.2026-01.test:other,i,0x400000000002");
    const tidLen = Math.ceil((name.length + 1) / 4) * 4;
    const list = new Uint8Array(24 + 4 + tidLen);
    const v = new DataView(list.buffer);
    v.setBigUint64(0, 0xaan);
    v.setBigUint64(8, 0xbbn);
    list[17] = 0x02; // UNREG
    v.setUint16(18, 1);
    v.setUint32(20, 4 + tidLen);
    list[24] = 0x45;
    v.setUint16(26, tidLen);
    list.set(name, 28);
    const mv = await h.run([0x5f, 7, 3, 0, 0, ...be(list.length, 4), 0], { dataOut: list });
    expect(mv.status).toBe(GOOD);
    expect(await keys(h)).toEqual([0xbbn]);
    expect((await h.run(cdb10(0x28, 0, 1), { nexus: B })).status).toBe(GOOD);
    expect((await h.run(cdb10(0x28, 0, 1))).status).toBe(CONFLICT);
  });

  it("bad parameter lists: wrong length, SPEC_I_PT, bad type", async () => {
    const h = await setup();
    const short = await h.run([0x5f, 0, 0, 0, 0, ...be(16, 4), 0], { dataOut: new Uint8Array(16) });
    expect(senseOf(short)).toMatchObject({ asc: 0x1a00 });
    expect(senseOf(await h.run(prout(0), { dataOut: params(0n, 1n, 0x08) }))).toMatchObject({ asc: 0x2600 });
    await register(h, A, 0xaan);
    expect(senseOf(await h.run(prout(1, 2), { dataOut: params(0xaan, 0n) }))).toMatchObject({ asc: 0x2400 });
  });
});

describe("APTPL", () => {
  it("saves state through the persistence callback and restores it into a new target", async () => {
    let saved: PersistedReservations | undefined;
    const persistence = { load: () => saved, save: (s: PersistedReservations | undefined) => (saved = s) };
    const h = new Harness();
    h.target.removeLun(0);
    h.target.addLun(0, h.backend, { persistence });
    await h.clearUa();
    await register(h, A, 0xaan, 0x01);
    expect((await h.run(prout(1, 1), { dataOut: params(0xaan, 0n) })).status).toBe(GOOD);
    expect(saved?.registrations.map((r) => r.key)).toEqual(["00000000000000aa"]);
    expect(saved?.reservation?.type).toBe(1);

    const h2 = new Harness();
    h2.target.removeLun(0);
    h2.target.addLun(0, new MemoryBackend(512, 1024), { persistence });
    h2.target.nexusLoggedIn(B);
    await h2.clearUa(B);
    expect((await h2.run(cdb10(0x2a, 0, 1), { nexus: B, dataOut: new Uint8Array(512) })).status).toBe(
      CONFLICT,
    );
    const caps = (await h2.run(prin(2), { nexus: B })).dataIn!;
    expect(caps[3]! & 0x01).toBe(1); // PTPL_A

    // A REGISTER without APTPL ends persistence.
    expect((await h.run(prout(0), { dataOut: params(0xaan, 0xa1n, 0) })).status).toBe(GOOD);
    expect(saved).toBeUndefined();
  });
});

describe("RESERVE / RELEASE (SPC-2)", () => {
  it("blocks other nexuses until release or logout", async () => {
    const h = await setup();
    expect((await h.run([0x56, 0, 0, 0, 0, 0, 0, 0, 0, 0])).status).toBe(GOOD);
    expect((await h.run([0, 0, 0, 0, 0, 0], { nexus: B })).status).toBe(CONFLICT);
    expect((await h.run([0x12, 0, 0, 0, 36, 0], { nexus: B })).status).toBe(GOOD);
    expect((await h.run([0x16, 0, 0, 0, 0, 0], { nexus: B })).status).toBe(CONFLICT);
    // RELEASE from a non-holder is a no-op.
    expect((await h.run([0x17, 0, 0, 0, 0, 0], { nexus: B })).status).toBe(GOOD);
    expect((await h.run([0, 0, 0, 0, 0, 0], { nexus: B })).status).toBe(CONFLICT);
    h.target.nexusLoggedOut(A);
    expect((await h.run([0, 0, 0, 0, 0, 0], { nexus: B })).status).toBe(GOOD);
    expect(senseOf(await h.run([0x56, 0x10, 0, 0, 0, 0, 0, 0, 0, 0], { nexus: B }))).toMatchObject({
      asc: 0x2400,
    });
  });
});

describe("commands allowed under a persistent reservation", () => {
  it("TEST UNIT READY, MODE SENSE and READ CAPACITY work for a non-registrant under EXCLUSIVE ACCESS", async () => {
    const h = await setup();
    await register(h, A, 0xaan);
    expect((await h.run(prout(1, 3), { dataOut: params(0xaan, 0n) })).status).toBe(GOOD);
    expect((await h.run([0, 0, 0, 0, 0, 0], { nexus: B })).status).toBe(GOOD);
    expect((await h.run([0x1a, 0, 0x3f, 0, 255, 0], { nexus: B })).status).toBe(GOOD);
    expect((await h.run([0x25, 0, 0, 0, 0, 0, 0, 0, 0, 0], { nexus: B })).status).toBe(GOOD);
    expect((await h.run(cdb10(0x28, 0, 1), { nexus: B })).status).toBe(CONFLICT);
    expect((await h.run(cdb10(0x35, 0, 0), { nexus: B })).status).toBe(CONFLICT);
  });
});

describe("PREEMPT AND ABORT", () => {
  it("asks the transport to abort the preempted nexuses' tasks", async () => {
    const aborted: [number, readonly string[]][] = [];
    const target = createScsiTargetPort({ abortTasks: (lun, keys) => aborted.push([lun, keys]) });
    const h = new Harness({ target });
    h.target.nexusLoggedIn(B);
    await h.clearUa();
    await h.clearUa(B);
    await register(h, A, 0xaan);
    await register(h, B, 0xbbn);
    expect((await h.run(prout(1, 1), { nexus: B, dataOut: params(0xbbn, 0n) })).status).toBe(GOOD);
    expect((await h.run(prout(5, 1), { dataOut: params(0xaan, 0xbbn) })).status).toBe(GOOD);
    expect(aborted).toEqual([[0, [nexusKey(B)]]]);
  });
});
