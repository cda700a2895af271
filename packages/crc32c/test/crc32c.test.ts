import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { crc32c } from "../src/crc32c.js";

// Bit-at-a-time reference: obviously correct, slow.
function reference(data: Uint8Array): number {
  let crc = 0xffffffff;
  for (const byte of data) {
    crc ^= byte;
    for (let k = 0; k < 8; k++) crc = crc & 1 ? (crc >>> 1) ^ 0x82f63b78 : crc >>> 1;
  }
  return ~crc >>> 0;
}

describe("crc32c", () => {
  it("matches the RFC 3720 / iSCSI check vectors", () => {
    // RFC 3720 Appendix B.4: 32 bytes of zeros, of 0xff, ascending and descending.
    expect(crc32c(new Uint8Array(32))).toBe(0x8a9136aa);
    expect(crc32c(new Uint8Array(32).fill(0xff))).toBe(0x62a8ab43);
    expect(crc32c(Uint8Array.from({ length: 32 }, (_, i) => i))).toBe(0x46dd794e);
    expect(crc32c(Uint8Array.from({ length: 32 }, (_, i) => 31 - i))).toBe(0x113fdb5c);
    expect(crc32c(new TextEncoder().encode("123456789"))).toBe(0xe3069283);
    expect(crc32c(new Uint8Array(0))).toBe(0);
  });

  it("agrees with the bit-at-a-time reference on any input", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), (data) => {
        expect(crc32c(data)).toBe(reference(data));
      }),
    );
  });

  it("continues across split buffers and honours start/end", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), fc.nat(), (data, cut) => {
        const k = data.length === 0 ? 0 : cut % (data.length + 1);
        expect(crc32c(data.subarray(k), crc32c(data.subarray(0, k)))).toBe(crc32c(data));
        expect(crc32c(data, 0, k, data.length)).toBe(crc32c(data.subarray(k)));
      }),
    );
  });
});
