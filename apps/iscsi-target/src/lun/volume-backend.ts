// An engine volume (read-write) and an engine snapshot (read-only) as SCSI BlockBackends. Thin:
// tickets pass straight through; the only translation is EngineError → sense.
import {
  MAX_ATOMIC_WRITE_BYTES,
  type SnapshotReader,
  type VolumeHandle,
  type WriteTicket,
} from "@livesnap/engine";
import {
  Asc,
  type BackendLbaRange,
  type BackendTicket,
  type BlockBackend,
  type CompareAndWriteResult,
  SenseError,
  SenseKey,
} from "@livesnap/iscsi";
import { engineCall, engineCallSync, engineResult, toSenseError } from "./engine-sense.js";

/** The part of a VolumeHandle a LUN uses. */
export type VolumeIo = Pick<
  VolumeHandle,
  | "info"
  | "admit"
  | "cancel"
  | "write"
  | "writeAtomic"
  | "writeZeroes"
  | "unmap"
  | "compareAndWrite"
  | "read"
  | "flush"
  | "lbaStatus"
>;

/** The part of a SnapshotReader a LUN uses. */
export type SnapshotIo = Pick<SnapshotReader, "info" | "sizeBytes" | "blockSize" | "read" | "lbaStatus">;

export function volumeBackend(volume: VolumeIo): BlockBackend {
  // The SCSI side only ever hands back tickets it got from admit(); keep the engine's own object.
  const tickets = new WeakMap<BackendTicket, WriteTicket>();
  const engineTicket = (t: BackendTicket): WriteTicket => {
    const w = tickets.get(t);
    if (!w) throw new Error("ticket not admitted by this backend");
    tickets.delete(t);
    return w;
  };
  const info = volume.info;
  // Images are files on 4 KiB-page filesystems: a smaller write is a read-modify-write.
  const physicalBlockSize = Math.max(info.blockSize, 4096);
  return {
    // Fixed for the volume's lifetime; only the size can change (resize).
    blockSize: info.blockSize,
    physicalBlockSize,
    // The engine deallocates whole chunks; a partial chunk is zero-filled and stays mapped.
    unmapGranularity: Math.max(info.chunkSize, physicalBlockSize),
    get sizeBytes() {
      return volume.info.sizeBytes;
    },
    readOnly: false,
    thin: true,
    identity: { id: info.id, name: info.name },
    admit(offset: number, length: number): BackendTicket {
      const t = engineCallSync("write", () => volume.admit(offset, length));
      tickets.set(t, t);
      return t;
    },
    cancel(t: BackendTicket): void {
      volume.cancel(engineTicket(t));
    },
    // The data path: no closure per call (engineCall's thunk), a synchronous throw still becomes sense.
    write(t, data, opts) {
      try {
        return engineResult("write", volume.write(engineTicket(t), data, opts));
      } catch (err) {
        return Promise.reject(toSenseError(err, "write"));
      }
    },
    // WRITE ATOMIC: the engine journals the data, so the write is all-or-nothing across a crash.
    maxAtomicBytes: MAX_ATOMIC_WRITE_BYTES,
    writeAtomic: (t, data, opts) =>
      engineCall("write", () => volume.writeAtomic(engineTicket(t), data, opts)),
    writeZeroes: (t, opts) => engineCall("write", () => volume.writeZeroes(engineTicket(t), opts)),
    unmap: (t) => engineCall("write", () => volume.unmap(engineTicket(t))),
    compareAndWrite: (t, expected, data): Promise<CompareAndWriteResult> =>
      engineCall("write", () => volume.compareAndWrite(engineTicket(t), expected, data)),
    // `into` is the transport's recycled Data-In buffer; the engine reads straight into it.
    read(offset, length, into) {
      try {
        return engineResult("read", volume.read(offset, length, into));
      } catch (err) {
        return Promise.reject(toSenseError(err, "read"));
      }
    },
    flush: () => engineCall("write", () => volume.flush()),
    lbaStatus: (offset, length): BackendLbaRange[] =>
      engineCallSync("read", () => volume.lbaStatus(offset, length)),
  };
}

const writeProtected = () => new SenseError({ key: SenseKey.dataProtect, asc: Asc.writeProtected });

/**
 * A snapshot as a read-only LUN. Its identity is the snapshot's own permanent id, so its NAA
 * designator differs from the volume's and from every other snapshot's.
 */
export function snapshotBackend(volumeName: string, snapshot: SnapshotIo): BlockBackend {
  const refuse = (): never => {
    throw writeProtected();
  };
  return {
    blockSize: snapshot.blockSize,
    physicalBlockSize: Math.max(snapshot.blockSize, 4096),
    sizeBytes: snapshot.sizeBytes,
    readOnly: true,
    thin: true,
    identity: { id: snapshot.info.id, name: `${volumeName}@${snapshot.info.name}` },
    admit: refuse,
    cancel: () => {},
    write: async () => refuse(),
    writeZeroes: async () => refuse(),
    unmap: async () => refuse(),
    compareAndWrite: async () => refuse(),
    read(offset, length, into) {
      try {
        return engineResult("read", snapshot.read(offset, length, into));
      } catch (err) {
        return Promise.reject(toSenseError(err, "read"));
      }
    },
    flush: async () => {},
    lbaStatus: (offset, length) => engineCallSync("read", () => snapshot.lbaStatus(offset, length)),
  };
}
