import { describe, expect, it } from "vitest";
import { decodeBinaryValue } from "../src/chap.js";
import {
  DEFAULT_TARGET_LIMITS,
  negotiateKey,
  parseNumber,
  type SessionParameters,
} from "../src/negotiation.js";
import { formatTargetAddress, sendTargetsAnswer } from "../src/send-targets.js";
import { parseText, serializeText } from "../src/text.js";

describe("text", () => {
  it("parses key=value pairs, values may contain '='", () => {
    expect(parseText(Buffer.from("A=1\0B=x=y\0C=\0"))).toEqual([
      ["A", "1"],
      ["B", "x=y"],
      ["C", ""],
    ]);
    expect(serializeText([["A", "1"]]).toString()).toBe("A=1\0");
  });

  it("rejects a missing '=', an empty key, a key over 63 bytes and a value over 8192", () => {
    expect(() => parseText(Buffer.from("novalue\0"))).toThrow(/key=value/);
    expect(() => parseText(Buffer.from("=x\0"))).toThrow(/key=value/);
    expect(() => parseText(Buffer.from(`${"k".repeat(64)}=1\0`))).toThrow(/key too long/);
    expect(() => parseText(Buffer.from(`K=${"v".repeat(8193)}\0`))).toThrow(/too long/);
  });
});

describe("negotiation rules", () => {
  const ctx = () => ({ limits: DEFAULT_TARGET_LIMITS, params: {} as Partial<SessionParameters> });

  it("min, max, AND, OR and list-of-values", () => {
    const c = ctx();
    expect(negotiateKey(c, "MaxOutstandingR2T", "64")).toBe(String(DEFAULT_TARGET_LIMITS.maxOutstandingR2T));
    expect(negotiateKey(c, "DefaultTime2Wait", "0")).toBe("2");
    expect(negotiateKey(c, "DefaultTime2Retain", "60")).toBe("0");
    expect(negotiateKey(c, "ImmediateData", "No")).toBe("No");
    expect(negotiateKey(c, "InitialR2T", "Yes")).toBe("Yes");
    expect(negotiateKey(c, "DataDigest", "CRC32C,None")).toBe("CRC32C");
    expect(negotiateKey(c, "HeaderDigest", "MD5")).toBe("Reject");
    expect(c.params).toMatchObject({ immediateData: false, initialR2T: true, dataDigest: "CRC32C" });
  });

  it("numbers in decimal and hex; garbage is not a number", () => {
    expect(parseNumber("8192")).toBe(8192);
    expect(parseNumber("0x2000")).toBe(8192);
    expect(parseNumber("12abc")).toBeUndefined();
    expect(parseNumber("")).toBeUndefined();
  });

  it("declarations get no answer, unknown keys NotUnderstood", () => {
    const c = ctx();
    expect(negotiateKey(c, "MaxRecvDataSegmentLength", "4096")).toBeUndefined();
    expect(c.params.initiatorMaxRecvDataSegmentLength).toBe(4096);
    expect(negotiateKey(c, "MaxRecvDataSegmentLength", "100")).toBe("Reject");
    expect(negotiateKey(c, "Y-unknown", "1")).toBe("NotUnderstood");
  });
});

describe("SendTargets", () => {
  const targets = [
    { name: "iqn.a", addresses: [formatTargetAddress("127.0.0.1", 3260, 1)] },
    { name: "iqn.b", addresses: [formatTargetAddress("::1", 3261, 1)] },
  ];
  it("All, a name, and the session's own target", () => {
    expect(sendTargetsAnswer("All", targets, undefined)).toEqual([
      ["TargetName", "iqn.a"],
      ["TargetAddress", "127.0.0.1:3260,1"],
      ["TargetName", "iqn.b"],
      ["TargetAddress", "[::1]:3261,1"],
    ]);
    expect(sendTargetsAnswer("iqn.b", targets, undefined)).toHaveLength(2);
    expect(sendTargetsAnswer("", targets, "iqn.a")[0]).toEqual(["TargetName", "iqn.a"]);
    expect(sendTargetsAnswer("iqn.none", targets, undefined)).toEqual([]);
  });
});

describe("CHAP binary values", () => {
  it("hex and base64, odd hex digits; junk is undefined", () => {
    expect(decodeBinaryValue("0x0102")).toEqual(Buffer.from([1, 2]));
    expect(decodeBinaryValue("0xabc")).toEqual(Buffer.from([0x0a, 0xbc]));
    expect(decodeBinaryValue("0bAQI=")).toEqual(Buffer.from([1, 2]));
    expect(decodeBinaryValue("0102")).toBeUndefined();
    expect(decodeBinaryValue("0xzz")).toBeUndefined();
  });
});
