// Write tickets taken at command arrival, held until the command runs or is abandoned, so every
// ticket ends exactly once (write, zeroes, unmap, compare-and-write, or cancel).
import type { BackendTicket } from "./backend.js";
import type { LogicalUnit } from "./logical-unit.js";

/** Admits one write range now and guarantees the ticket ends exactly once. */
export class TicketHolder {
  #tickets: BackendTicket[];
  constructor(
    private readonly lu: LogicalUnit,
    tickets: BackendTicket[],
  ) {
    this.#tickets = tickets;
  }

  static admit(
    lu: LogicalUnit,
    offset: number,
    length: number,
    piece = Number.POSITIVE_INFINITY,
  ): TicketHolder {
    const tickets: BackendTicket[] = [];
    try {
      for (let at = offset; at < offset + length; at += piece) {
        tickets.push(lu.backend.admit(at, Math.min(piece, offset + length - at)));
      }
    } catch (err) {
      for (const t of tickets) lu.backend.cancel(t);
      throw err;
    }
    return new TicketHolder(lu, tickets);
  }

  /** Hands the tickets to the caller, who must end each one. */
  take(): BackendTicket[] {
    const t = this.#tickets;
    this.#tickets = [];
    return t;
  }

  cancel(): void {
    for (const t of this.take()) this.lu.backend.cancel(t);
  }
}
