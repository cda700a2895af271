// The fixed-bucket command latency histogram: cumulative buckets, +Inf, sum and count per
// (volume, kind), label values escaped, nothing rendered before the first observation.
import { describe, expect, it } from "vitest";
import { CommandLatencyHistogram } from "../../src/management/command-latency.js";

describe("CommandLatencyHistogram", () => {
  it("renders Prometheus histogram lines per (volume, kind)", () => {
    const h = new CommandLatencyHistogram("t_seconds", "test latency", [0.001, 0.01]);
    expect(h.render()).toBe("");
    h.observe("v1", "read", 0.0005);
    h.observe("v1", "read", 0.001); // on the bound: le="0.001"
    h.observe("v1", "read", 0.5); // beyond every bound: only +Inf
    h.observe('we"ird\\', "write", 0.002);
    h.observe("v1", "read", Number.NaN); // ignored
    const text = h.render();
    expect(text).toContain("# HELP t_seconds test latency\n# TYPE t_seconds histogram\n");
    expect(text).toMatch(/^t_seconds_bucket\{le="0.001",volume="v1",kind="read"\} 2$/m);
    expect(text).toMatch(/^t_seconds_bucket\{le="0.01",volume="v1",kind="read"\} 2$/m);
    expect(text).toMatch(/^t_seconds_bucket\{le="\+Inf",volume="v1",kind="read"\} 3$/m);
    expect(text).toMatch(/^t_seconds_count\{volume="v1",kind="read"\} 3$/m);
    expect(Number(/^t_seconds_sum\{volume="v1",kind="read"\} (\S+)$/m.exec(text)?.[1])).toBeCloseTo(
      0.5015,
      10,
    );
    expect(text).toContain('t_seconds_bucket{le="0.01",volume="we\\"ird\\\\",kind="write"} 1');
  });
});
