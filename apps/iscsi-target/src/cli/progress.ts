// A one-line progress bar on stderr, redrawn at most 10 times a second; silent when not a terminal.
import { formatBytes } from "./format.js";

export class ProgressBar {
  private lastDraw = 0;
  private readonly started = Date.now();

  constructor(
    private readonly total: number,
    private readonly write: (text: string) => void,
    private readonly enabled: boolean,
    private readonly label: string,
    private readonly unit: (n: number) => string = formatBytes,
  ) {}

  update(done: number, force = false): void {
    if (!this.enabled) return;
    const now = Date.now();
    if (!force && now - this.lastDraw < 100) return;
    this.lastDraw = now;
    const fraction = this.total > 0 ? Math.min(1, done / this.total) : 1;
    const width = 30;
    const filled = Math.round(fraction * width);
    const seconds = Math.max(0.001, (now - this.started) / 1000);
    const rate = `${this.unit(Math.round(done / seconds))}/s`;
    this.write(
      `\r${this.label} [${"=".repeat(filled)}${" ".repeat(width - filled)}] ${(fraction * 100).toFixed(0).padStart(3)}%  ${this.unit(done)} / ${this.unit(this.total)}  ${rate}   `,
    );
  }

  finish(done = this.total): void {
    if (!this.enabled) return;
    this.update(done, true);
    this.write("\n");
  }
}
