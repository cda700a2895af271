// Mode pages (SPC-4 7.5, SBC-3 6.4): current, changeable, default and (unsupported) saved values.
// Current values live per logical unit; MODE SELECT may only change the bits the changeable mask
// allows.
import { invalidParameter } from "./sense.js";

export type PageControl = "current" | "changeable" | "default" | "saved";

interface PageDef {
  readonly code: number;
  /** Full page bytes including the 2-byte header, default values. */
  readonly defaults: readonly number[];
  /** Bits an initiator may change. */
  readonly changeable: readonly number[];
}

// Read-write error recovery (01h): AWRE, ARRE set; nothing changeable.
const readWriteErrorRecovery: PageDef = {
  code: 0x01,
  defaults: [0x01, 0x0a, 0xc0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
  changeable: [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
};

// Caching (08h): WCE=1 because acknowledged writes are durable only after SYNCHRONIZE CACHE or
// FUA; an initiator that clears WCE gets every write forced to stable storage.
const caching: PageDef = {
  code: 0x08,
  defaults: [
    0x08, 0x12, 0x04, 0, 0xff, 0xff, 0, 0, 0xff, 0xff, 0xff, 0xff, 0x80, 0x14, 0xff, 0xff, 0, 0, 0, 0,
  ],
  changeable: [0, 0, 0x04, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
};

// Control (0Ah): TST=000b (one task set per LU), QAM=1 (unrestricted reordering), TAS=0 (the
// transport drops tasks another nexus aborted; they learn it by unit attention), BUSY TIMEOUT
// unlimited; D_SENSE changeable.
const control: PageDef = {
  code: 0x0a,
  defaults: [0x0a, 0x0a, 0x00, 0x10, 0x00, 0x00, 0, 0, 0xff, 0xff, 0, 0],
  changeable: [0, 0, 0x04, 0, 0, 0, 0, 0, 0, 0, 0, 0],
};

// Informational exceptions control (1Ch): DEXCPT=1, no reporting.
const informationalExceptions: PageDef = {
  code: 0x1c,
  defaults: [0x1c, 0x0a, 0x08, 0, 0, 0, 0, 0, 0, 0, 0, 0],
  changeable: [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
};

const pages: readonly PageDef[] = [readWriteErrorRecovery, caching, control, informationalExceptions];

export const MODE_PAGE_CODES: readonly number[] = pages.map((p) => p.code);

export class ModePages {
  readonly #current = new Map<number, Uint8Array>();

  constructor() {
    for (const p of pages) this.#current.set(p.code, Uint8Array.from(p.defaults));
  }

  has(code: number): boolean {
    return this.#current.has(code);
  }

  /** Page bytes for MODE SENSE (PS bit clear; no saved pages). */
  page(code: number, pc: Exclude<PageControl, "saved">): Uint8Array {
    const def = pages.find((p) => p.code === code);
    if (!def) throw new Error(`no mode page ${code}`);
    if (pc === "changeable") {
      const b = Uint8Array.from(def.changeable);
      b[0] = def.code;
      b[1] = def.defaults[1] ?? 0;
      return b;
    }
    if (pc === "default") return Uint8Array.from(def.defaults);
    return Uint8Array.from(this.#current.get(code) ?? def.defaults);
  }

  /** All pages in ascending page code order. */
  all(pc: Exclude<PageControl, "saved">): Uint8Array[] {
    return pages.map((p) => this.page(p.code, pc));
  }

  get writeCacheEnabled(): boolean {
    return ((this.#current.get(0x08)?.[2] ?? 0) & 0x04) !== 0;
  }

  get descriptorSense(): boolean {
    return ((this.#current.get(0x0a)?.[2] ?? 0) & 0x04) !== 0;
  }

  /**
   * Validates and applies the pages of a MODE SELECT parameter list (`offset` = where pages start
   * in the list, for field pointers). All-or-nothing: nothing changes unless every page is valid.
   * Returns true when a current value changed.
   */
  select(list: Uint8Array, start: number): boolean {
    const updates: [number, Uint8Array][] = [];
    let at = start;
    while (at < list.length) {
      const code = (list[at] ?? 0) & 0x3f;
      if (((list[at] ?? 0) & 0x40) !== 0) throw invalidParameter(at, 6); // SPF: no subpages
      const def = pages.find((p) => p.code === code);
      if (!def) throw invalidParameter(at);
      const len = list[at + 1] ?? 0;
      if (len !== def.defaults[1]) throw invalidParameter(at + 1);
      if (at + 2 + len > list.length) throw invalidParameter(at + 1);
      const cur = this.#current.get(code) ?? Uint8Array.from(def.defaults);
      const next = Uint8Array.from(cur);
      for (let i = 2; i < 2 + len; i++) {
        const want = list[at + i] ?? 0;
        const mask = def.changeable[i] ?? 0;
        const diff = (want ^ (cur[i] ?? 0)) & ~mask & 0xff;
        if (diff !== 0) throw invalidParameter(at + i, 31 - Math.clz32(diff));
        next[i] = ((cur[i] ?? 0) & ~mask) | (want & mask);
      }
      updates.push([code, next]);
      at += 2 + len;
    }
    let changed = false;
    for (const [code, next] of updates) {
      const cur = this.#current.get(code);
      if (!cur || cur.some((v, i) => v !== next[i])) changed = true;
      this.#current.set(code, next);
    }
    return changed;
  }
}
