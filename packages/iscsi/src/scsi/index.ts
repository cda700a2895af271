// The SCSI command set behind the iSCSI transport: a target port over BlockBackends.
export type {
  BackendIdentity,
  BackendLbaRange,
  BackendTicket,
  BlockBackend,
  BlockSize,
  CompareAndWriteResult,
  PersistedRegistration,
  PersistedReservations,
  ReservationPersistence,
} from "./backend.js";
export * from "./contract.js";
export {
  Asc,
  descriptorSense,
  fixedSense,
  SenseError,
  type SenseInfo,
  SenseKey,
  type SenseKeyCode,
} from "./sense.js";
export {
  type AddLunOptions,
  createScsiTargetPort,
  nexusKey,
  type ScsiTarget,
  type ScsiTargetPortOptions,
} from "./target-port.js";
