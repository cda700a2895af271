// SCSI command latency per (volume, kind) as a Prometheus histogram with fixed buckets. One
// observation per command: a map lookup, a short bucket scan and three additions. prom-client's
// Histogram validates and hashes its labels on every observe (a labelled child too), about 0.5-1 µs
// per command at queue depth 1, so this one keeps plain counters and renders the exposition text
// only when /metrics is read.

interface Series {
  /** Observations per bucket (not cumulative); the last one is +Inf. */
  readonly counts: Float64Array;
  sum: number;
  count: number;
}

export class CommandLatencyHistogram {
  private readonly byVolume = new Map<string, Map<string, Series>>();

  constructor(
    readonly name: string,
    readonly help: string,
    /** Upper bounds in seconds, ascending. */
    private readonly bounds: readonly number[],
  ) {}

  observe(volume: string, kind: string, seconds: number): void {
    if (!Number.isFinite(seconds)) return;
    let byKind = this.byVolume.get(volume);
    if (!byKind) {
      byKind = new Map();
      this.byVolume.set(volume, byKind);
    }
    let series = byKind.get(kind);
    if (!series) {
      series = { counts: new Float64Array(this.bounds.length + 1), sum: 0, count: 0 };
      byKind.set(kind, series);
    }
    let b = 0;
    while (b < this.bounds.length && seconds > (this.bounds[b] as number)) b++;
    series.counts[b] = (series.counts[b] ?? 0) + 1;
    series.sum += seconds;
    series.count++;
  }

  /** The Prometheus text exposition of every series (empty when nothing was observed). */
  render(): string {
    if (this.byVolume.size === 0) return "";
    const lines = [`# HELP ${this.name} ${this.help}`, `# TYPE ${this.name} histogram`];
    for (const [volume, byKind] of this.byVolume) {
      for (const [kind, s] of byKind) {
        const labels = `volume="${escapeLabel(volume)}",kind="${escapeLabel(kind)}"`;
        let cumulative = 0;
        for (let b = 0; b <= this.bounds.length; b++) {
          cumulative += s.counts[b] ?? 0;
          const le = b < this.bounds.length ? String(this.bounds[b]) : "+Inf";
          lines.push(`${this.name}_bucket{le="${le}",${labels}} ${cumulative}`);
        }
        lines.push(`${this.name}_sum{${labels}} ${s.sum}`);
        lines.push(`${this.name}_count{${labels}} ${s.count}`);
      }
    }
    return `${lines.join("\n")}\n`;
  }
}

/** Prometheus label value escaping: backslash, double quote, newline. */
function escapeLabel(value: string): string {
  return value.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n");
}
