import { describe, expect, it } from "vitest";
import { cellsOfRuns, GLOW_MS, LiveWrites } from "../src/webview/live-writes.js";
import { fitAll, panRows, zoomAt } from "../src/webview/viewport.js";

const chunk = 65536;

describe("live writes", () => {
  it("maps chunk runs to the visible cells they touch", () => {
    const vp = fitAll(1024 * chunk, chunk, 16, 16); // 256 cells, 4 chunks each
    expect(cellsOfRuns(vp, chunk, [[0, 1]])).toEqual([0]);
    expect(cellsOfRuns(vp, chunk, [[3, 2]])).toEqual([0, 1]);
    expect(cellsOfRuns(vp, chunk, [[1020, 100]])).toEqual([255]);
    const scrolled = panRows(zoomAt(vp, 4, 0), 2); // 1 chunk per cell, starting at chunk 32
    expect(cellsOfRuns(scrolled, chunk, [[0, 10]])).toEqual([]);
    expect(cellsOfRuns(scrolled, chunk, [[33, 1]])).toEqual([1]);
  });

  it("glows fade out and expire", () => {
    const vp = fitAll(1024 * chunk, chunk, 16, 16);
    const lw = new LiveWrites();
    lw.add([[8, 1]], 1000);
    expect(lw.glow(vp, chunk, 1000)).toEqual(new Map([[2, 1]]));
    const half = lw.glow(vp, chunk, 1000 + GLOW_MS / 2).get(2)!;
    expect(half).toBeCloseTo(0.5);
    expect(lw.glow(vp, chunk, 1000 + GLOW_MS).size).toBe(0);
    expect(lw.size).toBe(0);
  });

  it("a huge run is sampled, not expanded chunk by chunk, yet lights every coarse cell it covers", () => {
    const vp = fitAll(2 ** 30 * chunk, chunk, 10, 10); // 100 cells over 2^30 chunks
    const lw = new LiveWrites();
    lw.add([[0, 2 ** 30]], 0, 1024);
    expect(lw.size).toBeLessThanOrEqual(1025);
    expect(lw.glow(vp, chunk, 0).size).toBe(100);
  });
});
