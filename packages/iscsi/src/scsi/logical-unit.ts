// One logical unit: its backend plus the SCSI state kept per LU (mode pages, unit attentions,
// reservations, the capacity last reported).
import type { BlockBackend, ReservationPersistence } from "./backend.js";
import { ModePages } from "./mode-pages.js";
import { Reservations } from "./reservations.js";
import { Asc } from "./sense.js";
import { UnitAttentions } from "./unit-attention.js";

export class LogicalUnit {
  readonly modes = new ModePages();
  readonly ua = new UnitAttentions();
  readonly pr = new Reservations();
  #reportedSize: number;
  /** A persisted state exists (so ending APTPL must remove it). */
  #persisted = false;

  constructor(
    readonly number: number,
    readonly backend: BlockBackend,
    readonly persistence: ReservationPersistence | undefined,
  ) {
    this.#reportedSize = backend.sizeBytes;
    const saved = persistence?.load();
    if (saved) {
      this.pr.restore(saved);
      this.#persisted = true;
    }
  }

  /** Number of logical blocks now. */
  get blocks(): number {
    return Math.floor(this.backend.sizeBytes / this.backend.blockSize);
  }

  /** Notices a size change since the last look: CAPACITY DATA HAS CHANGED for every nexus. */
  noticeCapacity(nexuses: Iterable<string>): void {
    const now = this.backend.sizeBytes;
    if (now === this.#reportedSize) return;
    this.#reportedSize = now;
    this.ua.establishAll(nexuses, Asc.capacityDataHasChanged);
  }

  /** Writes PR state through the persistence callback when APTPL asks for it. */
  persistReservations(): void {
    if (!this.persistence) return;
    if (this.pr.aptpl) {
      this.persistence.save(this.pr.toPersisted());
      this.#persisted = true;
    } else if (this.#persisted) {
      this.persistence.save(undefined);
      this.#persisted = false;
    }
  }
}
