// Checks shared by the block commands: LBA range, write protection, protection information
// fields, FUA and the maximum transfer length.
import { blockLimitsOf } from "./inquiry.js";
import type { LogicalUnit } from "./logical-unit.js";
import { Asc, invalidField, lbaOutOfRange, SenseError, SenseKey } from "./sense.js";

export function checkRange(lu: LogicalUnit, lba: number, blocks: number): void {
  const capacity = lu.blocks;
  if (lba > capacity || lba + blocks > capacity) throw lbaOutOfRange();
}

export function checkWritable(lu: LogicalUnit): void {
  if (lu.backend.readOnly) throw new SenseError({ key: SenseKey.dataProtect, asc: Asc.writeProtected });
}

/** RDPROTECT/WRPROTECT/VRPROTECT: no protection information here, so only zero is valid. */
export function checkNoProtection(cdb: Uint8Array): void {
  if (((cdb[1] ?? 0) & 0xe0) !== 0) throw invalidField(1, 7);
}

function transferLengthByte(cdb: Uint8Array): number {
  switch (cdb.length) {
    case 6:
      return 4;
    case 10:
      return 7;
    case 12:
      return 6;
    default:
      return 10;
  }
}

export function checkTransferLength(lu: LogicalUnit, cdb: Uint8Array, blocks: number): void {
  if (blocks > blockLimitsOf(lu.backend).maxTransferBlocks) throw invalidField(transferLengthByte(cdb));
}

export function fuaOf(cdb: Uint8Array): boolean {
  return cdb.length !== 6 && ((cdb[1] ?? 0) & 0x08) !== 0;
}
