import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { PersistedReservations } from "@livesnap/iscsi";
import { afterEach, describe, expect, it } from "vitest";
import { fileReservationPersistence } from "../../src/lun/pr-store.js";

const dirs: string[] = [];
const tempDir = () => {
  const d = mkdtempSync(join(tmpdir(), "livesnap-pr-"));
  dirs.push(d);
  return d;
};
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

const state: PersistedReservations = {
  version: 1,
  generation: 4,
  registrations: [
    {
      nexus: "iqn.x,i,0x400000000001|1",
      initiatorName: "iqn.x",
      isid: "400000000001",
      relativeTargetPortId: 1,
      key: "00000000000000ab",
    },
  ],
  reservation: { holder: "iqn.x,i,0x400000000001|1", type: 1 },
};

describe("APTPL reservation file", () => {
  it("round-trips, leaves no temp file, and removes the file when APTPL ends", () => {
    const dir = tempDir();
    const p = fileReservationPersistence(dir, "3f1c0a8e-0000-4000-8000-000000000001");
    expect(p.load()).toBeUndefined();
    p.save(state);
    expect(readdirSync(join(dir, "reservations"))).toEqual(["3f1c0a8e-0000-4000-8000-000000000001.json"]);
    expect(fileReservationPersistence(dir, "3f1c0a8e-0000-4000-8000-000000000001").load()).toEqual(state);
    p.save(undefined);
    expect(readdirSync(join(dir, "reservations"))).toEqual([]);
    expect(p.load()).toBeUndefined();
  });

  it("refuses a malformed file with a clear error and does not touch it", () => {
    const dir = tempDir();
    const p = fileReservationPersistence(dir, "lu1");
    p.save(state);
    const file = join(dir, "reservations", "lu1.json");
    writeFileSync(file, '{"version":1,"generation":-1}');
    expect(() => p.load()).toThrow(/malformed.*fix or remove/);
    writeFileSync(file, "{nope");
    expect(() => p.load()).toThrow(/not valid JSON/);
    expect(readFileSync(file, "utf8")).toBe("{nope");
  });

  it("refuses an id that could escape the directory", () => {
    expect(() => fileReservationPersistence(tempDir(), "../etc")).toThrow(/unusable/);
  });
});
