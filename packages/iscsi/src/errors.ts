// Typed protocol errors: the transport maps them to a Reject or a dropped connection.

export type ProtocolErrorCode =
  /** A length field exceeds what was negotiated or what the format allows. */
  | "bad-length"
  /** The header digest does not match: nothing after this point can be framed. */
  | "header-digest"
  /** A field holds a value the PDU type forbids. */
  | "invalid-field"
  /** Text data that is not key=value\0 pairs. */
  | "bad-text";

export class IscsiProtocolError extends Error {
  constructor(
    readonly code: ProtocolErrorCode,
    message: string,
  ) {
    super(message);
    this.name = "IscsiProtocolError";
  }
}
