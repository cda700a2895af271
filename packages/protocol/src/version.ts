// Bumped on any incompatible change to a method, result or event. A client sends its version in
// `hello`; the server refuses a different major version with a "version-mismatch" error.
export const PROTOCOL_VERSION = 1;
