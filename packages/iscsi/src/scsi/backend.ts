// What a logical unit needs from storage. The shapes mirror the engine's VolumeHandle and
// SnapshotReader so the daemon's adapter stays thin, but nothing here imports the engine.
// Backends report failures by throwing SenseError (see sense.ts); anything else becomes
// HARDWARE ERROR / INTERNAL TARGET FAILURE.

export type BlockSize = 512 | 4096;

/** A write's place in the storage's admission order, taken when its command arrives. */
export interface BackendTicket {
  readonly offset: number;
  readonly length: number;
}

export interface BackendLbaRange {
  offset: number;
  length: number;
  mapped: boolean;
}

export interface BackendIdentity {
  /**
   * Permanent unique id of what backs the LUN (e.g. a UUID). The NAA-6 designator, the T10 vendor
   * designator and the unit serial number are derived from it, so they never change across restarts.
   */
  readonly id: string;
  /** Human name (volume or volume@snapshot) for the T10 vendor designator. */
  readonly name: string;
}

export type CompareAndWriteResult = { ok: true } | { ok: false; mismatchOffset: number };

export interface BlockBackend {
  readonly blockSize: BlockSize;
  /**
   * Granularity below which writes cost a read-modify-write (a power-of-two multiple of
   * blockSize); reported as the physical block size. Default: blockSize.
   */
  readonly physicalBlockSize?: number;
  /**
   * Bytes the backend deallocates as a unit (a multiple of physicalBlockSize): an UNMAP of less
   * is zero-filled and stays mapped. Reported as the optimal unmap granularity, which Linux takes
   * as discard_granularity and QEMU as the target's cluster size. Default: physicalBlockSize.
   */
  readonly unmapGranularity?: number;
  /** Current size; may change while the LUN is exposed (CAPACITY DATA HAS CHANGED). */
  readonly sizeBytes: number;
  readonly readOnly: boolean;
  /** Thin provisioned: UNMAP / WRITE SAME with UNMAP and GET LBA STATUS are meaningful. */
  readonly thin: boolean;
  readonly identity: BackendIdentity;
  /**
   * Synchronous, called when a writing command arrives (before its data): fixes the write's
   * place relative to live snapshots. Every ticket ends in exactly one write/writeAtomic/
   * writeZeroes/unmap/compareAndWrite or in cancel().
   */
  admit(offset: number, length: number): BackendTicket;
  cancel(ticket: BackendTicket): void;
  write(ticket: BackendTicket, data: Uint8Array, opts?: { fua?: boolean }): Promise<void>;
  writeZeroes(ticket: BackendTicket, opts?: { unmap?: boolean }): Promise<void>;
  unmap(ticket: BackendTicket): Promise<void>;
  /** Atomic against every other write to the same bytes. */
  compareAndWrite(
    ticket: BackendTicket,
    expected: Uint8Array,
    data: Uint8Array,
  ): Promise<CompareAndWriteResult>;
  /**
   * Largest WRITE ATOMIC the backend can make all-or-nothing (across a crash, too), in bytes.
   * 0/absent, or no writeAtomic: the LUN does not offer WRITE ATOMIC (the opcode is unknown there).
   */
  readonly maxAtomicBytes?: number;
  /**
   * Writes the ticket's range entirely or not at all, even if the process dies mid-write: what
   * WRITE ATOMIC promises the initiator. Resolves once the data is durable.
   */
  writeAtomic?(ticket: BackendTicket, data: Uint8Array, opts?: { fua?: boolean }): Promise<void>;
  /**
   * Reads [offset, offset+length). With `into` (at least `length` bytes) the data may land there
   * and the result be a view of it, so the transport can recycle Data-In buffers; once the promise
   * settles the backend must not touch `into` again. A backend may ignore `into`.
   */
  read(offset: number, length: number, into?: Uint8Array): Promise<Uint8Array>;
  /** Every write acknowledged before the call is durable when it resolves. */
  flush(): Promise<void>;
  lbaStatus(offset: number, length: number): BackendLbaRange[];
}

/** PR state the SCSI side asks to keep across restarts when a registrant sets APTPL. */
export interface ReservationPersistence {
  /** Last saved state for the LUN (undefined: none). Called once when the LUN is added. */
  load(): PersistedReservations | undefined;
  /** Called after every PR change while APTPL is in effect (and once with `undefined` when it ends). */
  save(state: PersistedReservations | undefined): void;
}

export interface PersistedRegistration {
  /** I_T nexus id (initiator port + target port). */
  nexus: string;
  initiatorName: string;
  isid: string;
  relativeTargetPortId: number;
  /** 16 hex digits. */
  key: string;
}

export interface PersistedReservations {
  version: 1;
  generation: number;
  registrations: PersistedRegistration[];
  /** Holder nexus id ("*" for all-registrants types) and type, if reserved. */
  reservation?: { holder: string; type: number };
}
