// Unit attention conditions (SAM-5 5.14, SPC-4 5.14): queued per I_T nexus per logical unit and
// reported one at a time, oldest first, to the first command that does not ignore them.
import { Asc } from "./sense.js";

function isResetClass(asc: number): boolean {
  return asc >> 8 === 0x29;
}

export class UnitAttentions {
  readonly #queues = new Map<string, number[]>();

  /** Establishes `asc` for one nexus. A power-on/reset condition supersedes everything queued. */
  establish(nexus: string, asc: number): void {
    if (isResetClass(asc)) {
      this.#queues.set(nexus, [asc]);
      return;
    }
    const q = this.#queues.get(nexus);
    if (!q) {
      this.#queues.set(nexus, [asc]);
    } else if (!q.includes(asc)) {
      q.push(asc);
    }
  }

  establishAll(nexuses: Iterable<string>, asc: number, except?: string): void {
    for (const n of nexuses) if (n !== except) this.establish(n, asc);
  }

  /** The condition to report now for `nexus` (removed from the queue), if any. */
  take(nexus: string): number | undefined {
    const q = this.#queues.get(nexus);
    if (!q || q.length === 0) return undefined;
    const asc = q.shift();
    if (q.length === 0) this.#queues.delete(nexus);
    return asc;
  }

  peek(nexus: string): number | undefined {
    return this.#queues.get(nexus)?.[0];
  }

  /** REPORT LUNS clears REPORTED LUNS DATA HAS CHANGED for the nexus that ran it. */
  clear(nexus: string, asc: number): void {
    const q = this.#queues.get(nexus);
    if (!q) return;
    const i = q.indexOf(asc);
    if (i >= 0) q.splice(i, 1);
    if (q.length === 0) this.#queues.delete(nexus);
  }

  forget(nexus: string): void {
    this.#queues.delete(nexus);
  }
}

export const UaCodes = {
  powerOn: Asc.powerOnReset,
  lunReset: Asc.busDeviceReset,
} as const;
