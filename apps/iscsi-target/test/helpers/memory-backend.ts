// A RAM BlockBackend for transport tests: the iSCSI wire side tested with the real SCSI port
// and real initiators, without the engine.
import type { BackendLbaRange, BackendTicket, BlockBackend, CompareAndWriteResult } from "@livesnap/iscsi";

export function memoryBackend(
  sizeBytes: number,
  id = "00000000-0000-4000-8000-000000000001",
): BlockBackend & {
  data: Buffer;
} {
  const data = Buffer.alloc(sizeBytes);
  return {
    data,
    blockSize: 512,
    sizeBytes,
    readOnly: false,
    thin: false,
    identity: { id, name: "ram" },
    admit: (offset, length): BackendTicket => ({ offset, length }),
    cancel: () => {},
    write: async (t, bytes) => {
      data.set(bytes.subarray(0, t.length), t.offset);
    },
    writeZeroes: async (t) => {
      data.fill(0, t.offset, t.offset + t.length);
    },
    unmap: async (t) => {
      data.fill(0, t.offset, t.offset + t.length);
    },
    compareAndWrite: async (t, expected, bytes): Promise<CompareAndWriteResult> => {
      for (let i = 0; i < expected.length; i++) {
        if (data[t.offset + i] !== expected[i]) return { ok: false, mismatchOffset: i };
      }
      data.set(bytes, t.offset);
      return { ok: true };
    },
    read: async (offset, length, into) => {
      if (!into) return Buffer.from(data.subarray(offset, offset + length));
      into.set(data.subarray(offset, offset + length));
      return into.subarray(0, length);
    },
    flush: async () => {},
    lbaStatus: (offset, length): BackendLbaRange[] => [{ offset, length, mapped: true }],
  };
}
