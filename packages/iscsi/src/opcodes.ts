// iSCSI opcodes (RFC 7143 §11.1.1.1). The BHS carries them in the low six bits of byte 0.
export const InitiatorOpcode = {
  nopOut: 0x00,
  scsiCommand: 0x01,
  taskManagementRequest: 0x02,
  loginRequest: 0x03,
  textRequest: 0x04,
  scsiDataOut: 0x05,
  logoutRequest: 0x06,
  snackRequest: 0x10,
} as const;

export const TargetOpcode = {
  nopIn: 0x20,
  scsiResponse: 0x21,
  taskManagementResponse: 0x22,
  loginResponse: 0x23,
  textResponse: 0x24,
  scsiDataIn: 0x25,
  logoutResponse: 0x26,
  readyToTransfer: 0x31,
  asyncMessage: 0x32,
  reject: 0x3f,
} as const;

/** Reject reasons (RFC 7143 §11.17.1). */
export const RejectReason = {
  dataDigestError: 0x02,
  snackReject: 0x03,
  protocolError: 0x04,
  commandNotSupported: 0x05,
  immediateCommandReject: 0x06,
  taskInProgress: 0x07,
  invalidDataAck: 0x08,
  invalidPduField: 0x09,
  longOperationReject: 0x0a,
  waitingForLogout: 0x0c,
} as const;

/** Task management function codes (RFC 7143 §11.5.1). */
export const TmfFunction = {
  abortTask: 1,
  abortTaskSet: 2,
  clearAca: 3,
  clearTaskSet: 4,
  logicalUnitReset: 5,
  targetWarmReset: 6,
  targetColdReset: 7,
  taskReassign: 8,
} as const;

/** Task management responses (RFC 7143 §11.6.1). */
export const TmfResponse = {
  functionComplete: 0,
  taskDoesNotExist: 1,
  lunDoesNotExist: 2,
  taskStillAllegiant: 3,
  taskReassignmentNotSupported: 4,
  functionNotSupported: 5,
  authorizationFailed: 6,
  functionRejected: 255,
} as const;

/** Login status class/detail pairs (RFC 7143 §11.13.5), as (class << 8) | detail. */
export const LoginStatus = {
  success: 0x0000,
  targetMovedTemporarily: 0x0101,
  initiatorError: 0x0200,
  authenticationFailure: 0x0201,
  authorizationFailure: 0x0202,
  targetNotFound: 0x0203,
  targetRemoved: 0x0204,
  unsupportedVersion: 0x0205,
  tooManyConnections: 0x0206,
  missingParameter: 0x0207,
  cantIncludeInSession: 0x0208,
  sessionTypeNotSupported: 0x0209,
  sessionDoesNotExist: 0x020a,
  invalidDuringLogin: 0x020b,
  targetError: 0x0300,
  serviceUnavailable: 0x0301,
  outOfResources: 0x0302,
} as const;

/** A tag value meaning "no tag" (ITT/TTT 0xffffffff). */
export const RESERVED_TAG = 0xffffffff;
