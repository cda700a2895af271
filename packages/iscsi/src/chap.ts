// CHAP for iSCSI (RFC 7143 §12.1.3, RFC 1994): the target challenges, checks the initiator's
// response and, for mutual CHAP, answers the initiator's challenge. Algorithms by their PPP
// numbers: 5 MD5, 6 SHA-1, 7 SHA-256.
import { createHash, randomBytes, timingSafeEqual } from "node:crypto";

export const ChapAlgorithm = { md5: 5, sha1: 6, sha256: 7 } as const;
export type ChapAlgorithmCode = (typeof ChapAlgorithm)[keyof typeof ChapAlgorithm];

const HASH_NAME: Record<ChapAlgorithmCode, string> = { 5: "md5", 6: "sha1", 7: "sha256" };
const DIGEST_BYTES: Record<ChapAlgorithmCode, number> = { 5: 16, 6: 20, 7: 32 };

export interface ChapCredentials {
  username: string;
  secret: string;
}

/** CHAP_R = H(CHAP_I as one byte || secret || challenge). */
export function chapResponse(
  alg: ChapAlgorithmCode,
  id: number,
  secret: string,
  challenge: Uint8Array,
): Buffer {
  return createHash(HASH_NAME[alg])
    .update(Uint8Array.of(id & 0xff))
    .update(Buffer.from(secret, "utf8"))
    .update(challenge)
    .digest();
}

/** Binary values: 0x... hex or 0b... base64 (RFC 7143 §6.1). */
export function decodeBinaryValue(value: string): Buffer | undefined {
  if (/^0[xX]([0-9a-fA-F]{2})+$/.test(value)) return Buffer.from(value.slice(2), "hex");
  if (/^0[xX][0-9a-fA-F]+$/.test(value)) return Buffer.from(`0${value.slice(2)}`, "hex");
  if (/^0[bB][A-Za-z0-9+/]+={0,2}$/.test(value)) return Buffer.from(value.slice(2), "base64");
  return undefined;
}

export function encodeHexValue(bytes: Uint8Array): string {
  return `0x${Buffer.from(bytes).toString("hex")}`;
}

/** Pick the first algorithm in the initiator's CHAP_A list that we implement. */
export function chooseChapAlgorithm(offer: string): ChapAlgorithmCode | undefined {
  for (const item of offer.split(",")) {
    const n = Number(item);
    if (n === 5 || n === 6 || n === 7) return n;
  }
  return undefined;
}

export interface ChapChallenge {
  alg: ChapAlgorithmCode;
  id: number;
  challenge: Buffer;
}

export function newChallenge(alg: ChapAlgorithmCode): ChapChallenge {
  const id = randomBytes(1)[0] as number;
  // Challenge as long as the digest: enough entropy, and what Linux initiators expect.
  return { alg, id, challenge: randomBytes(Math.max(16, DIGEST_BYTES[alg])) };
}

export function verifyChapResponse(c: ChapChallenge, secret: string, response: Uint8Array): boolean {
  const expected = chapResponse(c.alg, c.id, secret, c.challenge);
  return expected.length === response.length && timingSafeEqual(expected, response);
}
