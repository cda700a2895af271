import { createHash } from "node:crypto";
import { describe, expect, it } from "vitest";
import { type LoginConfig, LoginNegotiation, type LoginOutcome } from "../src/login.js";
import { DEFAULT_TARGET_LIMITS } from "../src/negotiation.js";
import { LoginStatus } from "../src/opcodes.js";
import { PduParser } from "../src/parser.js";
import { decodeLoginRequest } from "../src/requests.js";
import { parseText } from "../src/text.js";
import { loginRequest, text } from "./pdu-builders.js";

const TARGET = "iqn.2026-11.io.livesnap:t1";
const INITIATOR = "iqn.2026-11.test:init";

function config(extra: Partial<LoginConfig> = {}, chap?: { username: string; secret: string }): LoginConfig {
  return {
    portalGroupTag: 1,
    limits: DEFAULT_TARGET_LIMITS,
    findTarget: (name) =>
      name === TARGET
        ? {
            name,
            ...(chap ? { chap, mutualChap: { username: "tgt", secret: "target-secret-1" } } : {}),
            allowedInitiators: [INITIATOR, "iqn.other"],
          }
        : undefined,
    ...extra,
  };
}

/** Send one hand-built Login Request through the parser and the state machine. */
function send(login: LoginNegotiation, opts: Parameters<typeof loginRequest>[0]): LoginOutcome {
  let outcome: LoginOutcome | undefined;
  new PduParser({ headerDigest: false, dataDigest: false, maxRecvDataSegmentLength: 8192 }).feed(
    loginRequest(opts),
    (pdu) => {
      outcome = login.handle(decodeLoginRequest(pdu));
    },
  );
  if (!outcome) throw new Error("no PDU framed");
  return outcome;
}

function answers(o: LoginOutcome): Map<string, string> {
  return new Map(parseText(o.answer.data));
}

describe("login without authentication", () => {
  it("goes security -> operational -> full feature and negotiates keys", () => {
    const login = new LoginNegotiation(config());
    const first = send(login, {
      transit: true,
      csg: 0,
      nsg: 1,
      data: text({ InitiatorName: INITIATOR, TargetName: TARGET, SessionType: "Normal", AuthMethod: "None" }),
    });
    expect(first.kind).toBe("continue");
    expect(first.answer.transit).toBe(true);
    expect(first.answer.nextStage).toBe(1);
    expect(answers(first).get("TargetPortalGroupTag")).toBe("1");
    expect(answers(first).get("AuthMethod")).toBe("None");

    const second = send(login, {
      transit: true,
      csg: 1,
      nsg: 3,
      data: text({
        HeaderDigest: "CRC32C,None",
        DataDigest: "None",
        MaxRecvDataSegmentLength: "65536",
        MaxBurstLength: "16776192",
        FirstBurstLength: "262144",
        InitialR2T: "No",
        ImmediateData: "Yes",
        MaxOutstandingR2T: "1",
        ErrorRecoveryLevel: "2",
        MaxConnections: "8",
        DefaultTime2Wait: "0",
        OFMarker: "No",
        IFMarkInt: "2048~65535",
        "X-com.example.Foo": "1",
      }),
    });
    expect(second.kind).toBe("complete");
    const a = answers(second);
    expect(a.get("HeaderDigest")).toBe("CRC32C");
    expect(a.get("MaxBurstLength")).toBe(String(DEFAULT_TARGET_LIMITS.maxBurstLength));
    expect(a.get("InitialR2T")).toBe("No");
    expect(a.get("ErrorRecoveryLevel")).toBe("0");
    expect(a.get("MaxConnections")).toBe("1");
    expect(a.get("DefaultTime2Wait")).toBe("2"); // max rule
    expect(a.get("OFMarker")).toBe("No");
    expect(a.get("IFMarkInt")).toBe("Irrelevant");
    expect(a.get("X-com.example.Foo")).toBe("NotUnderstood");
    // Declared in the first operational-stage answer, never in a security-stage one (open-iscsi
    // refuses operational keys there).
    expect(answers(first).has("MaxRecvDataSegmentLength")).toBe(false);
    expect(a.get("MaxRecvDataSegmentLength")).toBe(String(DEFAULT_TARGET_LIMITS.maxRecvDataSegmentLength));
    if (second.kind !== "complete") throw new Error();
    expect(second.params.initiatorMaxRecvDataSegmentLength).toBe(65536);
    expect(second.params.headerDigest).toBe("CRC32C");
    expect(second.params.immediateData).toBe(true);
    expect(second.params.initiatorName).toBe(INITIATOR);
  });

  it("applies RFC defaults for keys never sent", () => {
    const login = new LoginNegotiation(config());
    const o = send(login, {
      transit: true,
      csg: 1,
      nsg: 3,
      data: text({ InitiatorName: INITIATOR, TargetName: TARGET }),
    });
    if (o.kind !== "complete") throw new Error(o.kind);
    expect(o.params.initialR2T).toBe(true);
    expect(o.params.immediateData).toBe(true);
    expect(o.params.maxBurstLength).toBe(262144);
    expect(o.params.firstBurstLength).toBe(65536);
    expect(o.params.maxOutstandingR2T).toBe(1);
    expect(o.params.initiatorMaxRecvDataSegmentLength).toBe(8192);
    expect(o.params.headerDigest).toBe("None");
  });

  it("answers Reject to out-of-range and malformed values", () => {
    const login = new LoginNegotiation(config());
    const o = send(login, {
      transit: false,
      csg: 1,
      nsg: 0,
      data: text({
        InitiatorName: INITIATOR,
        TargetName: TARGET,
        MaxBurstLength: "100",
        InitialR2T: "Maybe",
      }),
    });
    expect(answers(o).get("MaxBurstLength")).toBe("Reject");
    expect(answers(o).get("InitialR2T")).toBe("Reject");
  });

  it("answers Irrelevant to data-transfer keys in discovery sessions", () => {
    const login = new LoginNegotiation(config());
    const o = send(login, {
      transit: true,
      csg: 1,
      nsg: 3,
      data: text({ InitiatorName: INITIATOR, SessionType: "Discovery", MaxBurstLength: "4096" }),
    });
    expect(o.kind).toBe("complete");
    expect(answers(o).get("MaxBurstLength")).toBe("Irrelevant");
  });

  it.each([
    [{ InitiatorName: INITIATOR, TargetName: "iqn.nope" }, LoginStatus.targetNotFound],
    [{ TargetName: TARGET }, LoginStatus.missingParameter],
    [{ InitiatorName: INITIATOR }, LoginStatus.missingParameter],
    [{ InitiatorName: "iqn.intruder", TargetName: TARGET }, LoginStatus.authorizationFailure],
    [
      { InitiatorName: INITIATOR, TargetName: TARGET, SessionType: "Weird" },
      LoginStatus.sessionTypeNotSupported,
    ],
  ])("fails %j with status %i", (pairs, status) => {
    const o = send(new LoginNegotiation(config()), { transit: true, csg: 1, nsg: 3, data: text(pairs) });
    expect(o.kind).toBe("fail");
    expect(o.answer.status).toBe(status);
  });

  it("rejects unsupported versions and invalid stage transitions", () => {
    const data = text({ InitiatorName: INITIATOR, TargetName: TARGET });
    expect(
      send(new LoginNegotiation(config()), { transit: true, csg: 1, nsg: 3, versionMin: 1, data }).answer
        .status,
    ).toBe(LoginStatus.unsupportedVersion);
    expect(send(new LoginNegotiation(config()), { transit: true, csg: 1, nsg: 1, data }).answer.status).toBe(
      LoginStatus.initiatorError,
    );
    expect(send(new LoginNegotiation(config()), { transit: true, csg: 2, nsg: 3, data }).answer.status).toBe(
      LoginStatus.initiatorError,
    );
  });

  it("fails on text that is not key=value", () => {
    const o = send(new LoginNegotiation(config()), {
      transit: true,
      csg: 1,
      nsg: 3,
      data: Buffer.from("InitiatorName\0"),
    });
    expect(o.answer.status).toBe(LoginStatus.initiatorError);
  });
});

function md5(id: number, secret: string, challenge: Buffer): string {
  return `0x${createHash("md5").update(Buffer.of(id)).update(secret).update(challenge).digest("hex")}`;
}

describe("CHAP", () => {
  const chap = { username: "alice", secret: "alice-secret-12" };

  function startChap(login: LoginNegotiation, alg = "5"): { id: number; challenge: Buffer } {
    const first = send(login, {
      transit: true,
      csg: 0,
      nsg: 1,
      data: text({ InitiatorName: INITIATOR, TargetName: TARGET, AuthMethod: "CHAP,None" }),
    });
    expect(answers(first).get("AuthMethod")).toBe("CHAP");
    expect(first.answer.transit).toBe(false);
    const second = send(login, { transit: false, csg: 0, nsg: 0, data: text({ CHAP_A: alg }) });
    const a = answers(second);
    const id = Number(a.get("CHAP_I"));
    const challenge = Buffer.from((a.get("CHAP_C") as string).slice(2), "hex");
    return { id, challenge };
  }

  it("one-way MD5: correct response logs in, wrong one fails", () => {
    const login = new LoginNegotiation(config({}, chap));
    const { id, challenge } = startChap(login);
    const ok = send(login, {
      transit: true,
      csg: 0,
      nsg: 1,
      data: text({ CHAP_N: "alice", CHAP_R: md5(id, chap.secret, challenge) }),
    });
    expect(ok.kind).toBe("continue");
    expect(ok.answer.transit).toBe(true);

    const bad = new LoginNegotiation(config({}, chap));
    const c2 = startChap(bad);
    const fail = send(bad, {
      transit: true,
      csg: 0,
      nsg: 1,
      data: text({ CHAP_N: "alice", CHAP_R: md5(c2.id, "wrong-secret", c2.challenge) }),
    });
    expect(fail.answer.status).toBe(LoginStatus.authenticationFailure);
  });

  it("mutual: the target proves it knows its own secret", () => {
    const login = new LoginNegotiation(config({}, chap));
    const { id, challenge } = startChap(login);
    const mine = Buffer.from("0123456789abcdef0123456789abcdef", "hex");
    const o = send(login, {
      transit: true,
      csg: 0,
      nsg: 1,
      data: text({
        CHAP_N: "alice",
        CHAP_R: md5(id, chap.secret, challenge),
        CHAP_I: "77",
        CHAP_C: `0x${mine.toString("hex")}`,
      }),
    });
    expect(answers(o).get("CHAP_N")).toBe("tgt");
    expect(answers(o).get("CHAP_R")).toBe(md5(77, "target-secret-1", mine));
  });

  it("refuses a reflected challenge", () => {
    const login = new LoginNegotiation(config({}, chap));
    const { id, challenge } = startChap(login);
    const o = send(login, {
      transit: true,
      csg: 0,
      nsg: 1,
      data: text({
        CHAP_N: "alice",
        CHAP_R: md5(id, chap.secret, challenge),
        CHAP_I: "1",
        CHAP_C: `0x${challenge.toString("hex")}`,
      }),
    });
    expect(o.answer.status).toBe(LoginStatus.authenticationFailure);
  });

  it("keeps operational keys out of security-stage answers, also when CHAP completes", () => {
    const login = new LoginNegotiation(config({}, chap));
    const { id, challenge } = startChap(login);
    const done = send(login, {
      transit: true,
      csg: 0,
      nsg: 1,
      data: text({ CHAP_N: "alice", CHAP_R: md5(id, chap.secret, challenge) }),
    });
    expect(done.answer.currentStage).toBe(0);
    expect(done.answer.transit).toBe(true);
    expect([...answers(done).keys()].filter((k) => !k.startsWith("CHAP_"))).toEqual([]);
    const op = send(login, { transit: true, csg: 1, nsg: 3, data: text({ MaxBurstLength: "65536" }) });
    expect(op.kind).toBe("complete");
    expect(answers(op).has("MaxRecvDataSegmentLength")).toBe(true);
  });

  it("declares MaxRecvDataSegmentLength in a security answer only when going straight to full feature", () => {
    const o = send(new LoginNegotiation(config()), {
      transit: true,
      csg: 0,
      nsg: 3,
      data: text({ InitiatorName: INITIATOR, TargetName: TARGET, AuthMethod: "None" }),
    });
    expect(o.kind).toBe("complete");
    expect(answers(o).has("MaxRecvDataSegmentLength")).toBe(true);
  });

  it("picks SHA-256 when offered first", () => {
    const login = new LoginNegotiation(config({}, chap));
    const { id, challenge } = startChap(login, "7,5");
    const r = createHash("sha256").update(Buffer.of(id)).update(chap.secret).update(challenge).digest("hex");
    const o = send(login, {
      transit: true,
      csg: 0,
      nsg: 1,
      data: text({ CHAP_N: "alice", CHAP_R: `0x${r}` }),
    });
    expect(o.kind).toBe("continue");
    expect(o.answer.transit).toBe(true);
  });

  it("does not let an initiator skip authentication", () => {
    const o1 = send(new LoginNegotiation(config({}, chap)), {
      transit: true,
      csg: 1,
      nsg: 3,
      data: text({ InitiatorName: INITIATOR, TargetName: TARGET }),
    });
    expect(o1.answer.status).toBe(LoginStatus.authenticationFailure);
    const o2 = send(new LoginNegotiation(config({}, chap)), {
      transit: true,
      csg: 0,
      nsg: 1,
      data: text({ InitiatorName: INITIATOR, TargetName: TARGET, AuthMethod: "None" }),
    });
    expect(o2.answer.status).toBe(LoginStatus.authenticationFailure);
  });
});
