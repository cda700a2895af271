// Persistent reservations (SPC-4 5.12) and SPC-2 RESERVE/RELEASE for one logical unit. State only:
// the PERSISTENT RESERVE IN/OUT handlers (pr-commands.ts) decode CDBs and parameter lists and call
// these methods. Registrations are keyed by I_T nexus key (initiator port + relative target port).
import type { PersistedReservations } from "./backend.js";
import { Asc, invalidField, invalidParameter, SenseError, SenseKey } from "./sense.js";

export const PrType = {
  writeExclusive: 1,
  exclusiveAccess: 3,
  writeExclusiveRegistrantsOnly: 5,
  exclusiveAccessRegistrantsOnly: 6,
  writeExclusiveAllRegistrants: 7,
  exclusiveAccessAllRegistrants: 8,
} as const;

const VALID_TYPES = new Set<number>(Object.values(PrType));

/** RESERVATION CONFLICT status (not a CHECK CONDITION). */
export class ReservationConflict extends Error {
  constructor() {
    super("reservation conflict");
    this.name = "ReservationConflict";
  }
}

export interface Registrant {
  /** Nexus key. */
  readonly nexus: string;
  readonly initiatorName: string;
  readonly isid: string;
  readonly relativeTargetPortId: number;
  key: bigint;
}

export function isAllRegistrants(type: number): boolean {
  return type === PrType.writeExclusiveAllRegistrants || type === PrType.exclusiveAccessAllRegistrants;
}

function isRegistrantsOnly(type: number): boolean {
  return type === PrType.writeExclusiveRegistrantsOnly || type === PrType.exclusiveAccessRegistrantsOnly;
}

function isExclusiveAccess(type: number): boolean {
  return (
    type === PrType.exclusiveAccess ||
    type === PrType.exclusiveAccessRegistrantsOnly ||
    type === PrType.exclusiveAccessAllRegistrants
  );
}

/** How a command is treated under a reservation (SPC-4 table 5.12.x, simplified to classes). */
export type AccessClass =
  /** Never blocked (INQUIRY, REPORT LUNS, READ CAPACITY…). */
  | "always"
  /** Allowed under any persistent reservation, blocked by another nexus's SPC-2 RESERVE (TUR, MODE SENSE). */
  | "metadata"
  | "read"
  | "write"
  | "spc2-release"
  | "pr";

/** A unit attention to queue for another nexus as a side effect of a PR OUT. */
export interface PrSideEffect {
  nexus: string;
  asc: number;
}

export class Reservations {
  generation = 0;
  aptpl = false;
  readonly registrants = new Map<string, Registrant>();
  /** Holder nexus key; for all-registrants types every registrant holds it (holder is the reserver). */
  reservation: { holder: string; type: number } | undefined;
  /** SPC-2 RESERVE(6)/(10) holder. */
  spc2Holder: string | undefined;

  isHolder(nexus: string): boolean {
    const r = this.reservation;
    if (!r) return false;
    if (isAllRegistrants(r.type)) return this.registrants.has(nexus);
    return r.holder === nexus;
  }

  /** Throws ReservationConflict when `nexus` may not run a command of class `cls` now. */
  check(nexus: string, cls: AccessClass): void {
    if (cls === "always") return;
    if (this.spc2Holder !== undefined && this.spc2Holder !== nexus) {
      if (cls !== "spc2-release") throw new ReservationConflict();
      return;
    }
    if (cls === "spc2-release" && this.reservation && !this.isHolder(nexus)) throw new ReservationConflict();
    const r = this.reservation;
    if (!r || cls === "pr" || cls === "spc2-release" || cls === "metadata") return;
    if (this.isHolder(nexus)) return;
    const registered = this.registrants.has(nexus);
    if (cls === "read") {
      if (!isExclusiveAccess(r.type)) return;
      if ((isRegistrantsOnly(r.type) || isAllRegistrants(r.type)) && registered) return;
      throw new ReservationConflict();
    }
    // write
    if ((isRegistrantsOnly(r.type) || isAllRegistrants(r.type)) && registered) return;
    throw new ReservationConflict();
  }

  // --- SPC-2 ---

  reserve6(nexus: string): void {
    if (this.reservation || (this.spc2Holder !== undefined && this.spc2Holder !== nexus)) {
      throw new ReservationConflict();
    }
    this.spc2Holder = nexus;
  }

  release6(nexus: string): void {
    if (this.spc2Holder === nexus) this.spc2Holder = undefined;
  }

  // --- PERSISTENT RESERVE OUT ---

  register(
    who: Omit<Registrant, "key">,
    reservationKey: bigint,
    serviceActionKey: bigint,
    ignoreExisting: boolean,
    aptpl: boolean,
  ): PrSideEffect[] {
    const effects: PrSideEffect[] = [];
    const existing = this.registrants.get(who.nexus);
    if (!existing) {
      if (!ignoreExisting && reservationKey !== 0n) throw new ReservationConflict();
      if (serviceActionKey === 0n) return effects;
      this.registrants.set(who.nexus, { ...who, key: serviceActionKey });
    } else {
      if (!ignoreExisting && reservationKey !== existing.key) throw new ReservationConflict();
      if (serviceActionKey === 0n) {
        effects.push(...this.#unregister(who.nexus));
      } else {
        existing.key = serviceActionKey;
      }
    }
    this.aptpl = aptpl;
    this.generation++;
    return effects;
  }

  #unregister(nexus: string): PrSideEffect[] {
    const effects: PrSideEffect[] = [];
    this.registrants.delete(nexus);
    const r = this.reservation;
    if (!r) return effects;
    if (isAllRegistrants(r.type)) {
      if (this.registrants.size === 0) this.reservation = undefined;
      else if (r.holder === nexus) r.holder = this.registrants.keys().next().value ?? r.holder;
      return effects;
    }
    if (r.holder === nexus) {
      this.reservation = undefined;
      if (isRegistrantsOnly(r.type)) {
        for (const other of this.registrants.keys())
          effects.push({ nexus: other, asc: Asc.reservationsReleased });
      }
    }
    return effects;
  }

  #requireRegistered(nexus: string, reservationKey: bigint): Registrant {
    const reg = this.registrants.get(nexus);
    if (!reg || reg.key !== reservationKey) throw new ReservationConflict();
    return reg;
  }

  reserve(nexus: string, reservationKey: bigint, type: number, scope: number): void {
    this.#requireRegistered(nexus, reservationKey);
    if (scope !== 0) throw invalidField(2, 7);
    if (!VALID_TYPES.has(type)) throw invalidField(2, 3);
    const r = this.reservation;
    if (!r) {
      this.reservation = { holder: nexus, type };
      return;
    }
    if (!this.isHolder(nexus) || r.type !== type) throw new ReservationConflict();
  }

  release(nexus: string, reservationKey: bigint, type: number, scope: number): PrSideEffect[] {
    this.#requireRegistered(nexus, reservationKey);
    const r = this.reservation;
    if (!r || !this.isHolder(nexus)) return [];
    if (scope !== 0) throw invalidField(2, 7);
    if (r.type !== type) {
      throw new SenseError({ key: SenseKey.illegalRequest, asc: 0x2604 }); // INVALID RELEASE OF PERSISTENT RESERVATION
    }
    this.reservation = undefined;
    const effects: PrSideEffect[] = [];
    if (isRegistrantsOnly(type) || isAllRegistrants(type)) {
      for (const other of this.registrants.keys()) {
        if (other !== nexus) effects.push({ nexus: other, asc: Asc.reservationsReleased });
      }
    }
    return effects;
  }

  clear(nexus: string, reservationKey: bigint): PrSideEffect[] {
    this.#requireRegistered(nexus, reservationKey);
    const effects: PrSideEffect[] = [];
    for (const other of this.registrants.keys()) {
      if (other !== nexus) effects.push({ nexus: other, asc: Asc.reservationsPreempted });
    }
    this.registrants.clear();
    this.reservation = undefined;
    this.generation++;
    return effects;
  }

  /** PREEMPT and PREEMPT AND ABORT. Returns UAs and the nexuses whose registrations were removed. */
  preempt(
    nexus: string,
    reservationKey: bigint,
    serviceActionKey: bigint,
    type: number,
    scope: number,
  ): { effects: PrSideEffect[]; preempted: string[] } {
    this.#requireRegistered(nexus, reservationKey);
    const effects: PrSideEffect[] = [];
    const preempted: string[] = [];
    const removeWithKey = (key: bigint | undefined) => {
      for (const [n, reg] of [...this.registrants]) {
        if (n === nexus) continue;
        if (key === undefined || reg.key === key) {
          this.registrants.delete(n);
          preempted.push(n);
          effects.push({ nexus: n, asc: Asc.registrationsPreempted });
        }
      }
    };
    const r = this.reservation;
    const checkTypeScope = () => {
      if (scope !== 0) throw invalidField(2, 7);
      if (!VALID_TYPES.has(type)) throw invalidField(2, 3);
    };
    if (r && isAllRegistrants(r.type)) {
      if (serviceActionKey === 0n) {
        checkTypeScope();
        removeWithKey(undefined);
        this.reservation = { holder: nexus, type };
      } else {
        removeWithKey(serviceActionKey);
        if (
          preempted.length === 0 &&
          ![...this.registrants.values()].some((x) => x.key === serviceActionKey)
        ) {
          throw new ReservationConflict();
        }
      }
    } else if (r && this.registrants.get(r.holder)?.key === serviceActionKey) {
      checkTypeScope();
      removeWithKey(serviceActionKey);
      const typeChanged = r.type !== type;
      this.reservation = { holder: nexus, type };
      if (typeChanged) {
        for (const other of this.registrants.keys()) {
          if (other !== nexus) effects.push({ nexus: other, asc: Asc.reservationsReleased });
        }
      }
    } else {
      if (serviceActionKey === 0n) throw invalidParameter(8);
      removeWithKey(serviceActionKey);
      const ownKeyMatches = this.registrants.get(nexus)?.key === serviceActionKey;
      if (preempted.length === 0 && !ownKeyMatches) throw new ReservationConflict();
    }
    this.generation++;
    return { effects, preempted };
  }

  /** REGISTER AND MOVE: the holder hands the reservation to another I_T nexus. */
  registerAndMove(
    nexus: string,
    reservationKey: bigint,
    serviceActionKey: bigint,
    target: Omit<Registrant, "key">,
    unregister: boolean,
    aptpl: boolean,
  ): void {
    this.#requireRegistered(nexus, reservationKey);
    const r = this.reservation;
    if (!r || r.holder !== nexus || isAllRegistrants(r.type)) throw new ReservationConflict();
    if (serviceActionKey === 0n) throw invalidParameter(8);
    if (target.nexus === nexus) throw invalidParameter(24);
    const existing = this.registrants.get(target.nexus);
    if (existing) existing.key = serviceActionKey;
    else this.registrants.set(target.nexus, { ...target, key: serviceActionKey });
    this.reservation = { holder: target.nexus, type: r.type };
    if (unregister) this.registrants.delete(nexus);
    this.aptpl = aptpl;
    this.generation++;
  }

  /** Logical unit reset / I_T nexus loss: only the SPC-2 reservation goes away. */
  resetSpc2(nexus?: string): void {
    if (nexus === undefined || this.spc2Holder === nexus) this.spc2Holder = undefined;
  }

  toPersisted(): PersistedReservations {
    const out: PersistedReservations = {
      version: 1,
      generation: this.generation,
      registrations: [...this.registrants.values()].map((r) => ({
        nexus: r.nexus,
        initiatorName: r.initiatorName,
        isid: r.isid,
        relativeTargetPortId: r.relativeTargetPortId,
        key: r.key.toString(16).padStart(16, "0"),
      })),
    };
    if (this.reservation) out.reservation = { ...this.reservation };
    return out;
  }

  restore(p: PersistedReservations): void {
    this.generation = p.generation;
    this.registrants.clear();
    for (const r of p.registrations) {
      this.registrants.set(r.nexus, {
        nexus: r.nexus,
        initiatorName: r.initiatorName,
        isid: r.isid,
        relativeTargetPortId: r.relativeTargetPortId,
        key: BigInt(`0x${r.key}`),
      });
    }
    this.reservation = p.reservation ? { ...p.reservation } : undefined;
    this.aptpl = true;
  }
}
