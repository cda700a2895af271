// key=value<NUL> text (RFC 7143 §6.1), used by Login and Text PDUs.
import { IscsiProtocolError } from "./errors.js";

export type TextPairs = [key: string, value: string][];

/** Largest key name (RFC 7143 §6.1: 63 bytes) and value (8192 bytes) we accept. */
const MAX_KEY = 63;
const MAX_VALUE = 8192;

export function parseText(data: Uint8Array): TextPairs {
  const pairs: TextPairs = [];
  const text = Buffer.from(data.buffer, data.byteOffset, data.byteLength).toString("utf8");
  const parts = text.split("\0");
  // A well-formed segment ends with NUL, leaving one empty tail; tolerate trailing padding NULs.
  for (const part of parts) {
    if (part.length === 0) continue;
    const eq = part.indexOf("=");
    if (eq <= 0)
      throw new IscsiProtocolError(
        "bad-text",
        `text item without key=value: ${JSON.stringify(part.slice(0, 64))}`,
      );
    const key = part.slice(0, eq);
    const value = part.slice(eq + 1);
    if (key.length > MAX_KEY) throw new IscsiProtocolError("bad-text", `key too long: ${key.slice(0, 64)}`);
    if (value.length > MAX_VALUE) throw new IscsiProtocolError("bad-text", `value of ${key} too long`);
    pairs.push([key, value]);
  }
  return pairs;
}

export function serializeText(pairs: TextPairs): Buffer {
  if (pairs.length === 0) return Buffer.alloc(0);
  return Buffer.from(`${pairs.map(([k, v]) => `${k}=${v}`).join("\0")}\0`, "utf8");
}
