// Residuals (RFC 7143 §11.4.5.1): compare what the command moved (or would have moved, per its
// CDB) with the Expected Data Transfer Length the initiator announced.
import { NO_RESIDUAL, type Residual } from "@livesnap/iscsi";

export function residualFor(expectedDataTransferLength: number, cdbTransferLength: number): Residual {
  if (cdbTransferLength > expectedDataTransferLength) {
    return { overflow: true, underflow: false, count: cdbTransferLength - expectedDataTransferLength };
  }
  if (cdbTransferLength < expectedDataTransferLength) {
    return { overflow: false, underflow: true, count: expectedDataTransferLength - cdbTransferLength };
  }
  return NO_RESIDUAL;
}
