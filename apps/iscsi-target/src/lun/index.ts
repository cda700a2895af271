// Engine volumes and snapshots as LUNs of a SCSI target port.
import type { SnapshotReader, VolumeHandle } from "@livesnap/engine";
import type { ScsiTarget } from "@livesnap/iscsi";
import { fileReservationPersistence } from "./pr-store.js";
import { snapshotBackend, volumeBackend } from "./volume-backend.js";

export { engineErrorCode, senseForEngineCode, toSenseError } from "./engine-sense.js";
export { fileReservationPersistence } from "./pr-store.js";
export { snapshotBackend, volumeBackend } from "./volume-backend.js";

/** Exposes a volume read-write as `lun`; APTPL reservations live under `dataDir`. */
export function addVolumeLun(target: ScsiTarget, lun: number, volume: VolumeHandle, dataDir: string): void {
  target.addLun(lun, volumeBackend(volume), {
    persistence: fileReservationPersistence(dataDir, volume.info.id),
  });
}

/** Exposes a snapshot read-only as `lun`, with its own identity and reservations. */
export function addSnapshotLun(
  target: ScsiTarget,
  lun: number,
  volumeName: string,
  snapshot: SnapshotReader,
  dataDir: string,
): void {
  target.addLun(lun, snapshotBackend(volumeName, snapshot), {
    persistence: fileReservationPersistence(dataDir, snapshot.info.id),
  });
}
