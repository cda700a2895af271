// Operational text keys (RFC 7143 §13, RFC 7144): how each is negotiated, its default and range,
// and the answer a target gives to an offer. Keys never offered keep their defaults.

export type DigestKind = "None" | "CRC32C";

/** The negotiated operational parameters of a session and its connection. */
export interface SessionParameters {
  sessionType: "Normal" | "Discovery";
  initiatorName: string;
  initiatorAlias?: string;
  /** Absent in discovery sessions. */
  targetName?: string;
  headerDigest: DigestKind;
  dataDigest: DigestKind;
  maxConnections: number;
  initialR2T: boolean;
  immediateData: boolean;
  maxBurstLength: number;
  firstBurstLength: number;
  defaultTime2Wait: number;
  defaultTime2Retain: number;
  maxOutstandingR2T: number;
  dataPduInOrder: boolean;
  dataSequenceInOrder: boolean;
  errorRecoveryLevel: number;
  /** Largest data segment the initiator accepts: bounds our Data-In and text responses. */
  initiatorMaxRecvDataSegmentLength: number;
  /** Largest data segment we accept (we declare it). */
  targetMaxRecvDataSegmentLength: number;
}

export const DEFAULT_PARAMETERS: Omit<SessionParameters, "initiatorName" | "targetMaxRecvDataSegmentLength"> =
  {
    sessionType: "Normal",
    headerDigest: "None",
    dataDigest: "None",
    maxConnections: 1,
    initialR2T: true,
    immediateData: true,
    maxBurstLength: 262144,
    firstBurstLength: 65536,
    defaultTime2Wait: 2,
    defaultTime2Retain: 20,
    maxOutstandingR2T: 1,
    dataPduInOrder: true,
    dataSequenceInOrder: true,
    errorRecoveryLevel: 0,
    initiatorMaxRecvDataSegmentLength: 8192,
  };

/** What this target is willing to do (its side of each negotiation). */
export interface TargetLimits {
  maxRecvDataSegmentLength: number;
  maxBurstLength: number;
  firstBurstLength: number;
  maxOutstandingR2T: number;
  /** Preferred by the target; the result still follows the OR/AND rule. */
  initialR2T: boolean;
  immediateData: boolean;
  headerDigests: DigestKind[];
  dataDigests: DigestKind[];
  defaultTime2Wait: number;
  defaultTime2Retain: number;
}

export const DEFAULT_TARGET_LIMITS: TargetLimits = {
  maxRecvDataSegmentLength: 262144,
  maxBurstLength: 1048576,
  firstBurstLength: 262144,
  maxOutstandingR2T: 8,
  initialR2T: false,
  immediateData: true,
  headerDigests: ["None", "CRC32C"],
  dataDigests: ["None", "CRC32C"],
  defaultTime2Wait: 2,
  defaultTime2Retain: 0,
};

type NumberKey = {
  kind: "number";
  field: keyof SessionParameters;
  min: number;
  max: number;
  rule: "min" | "max";
  target: (l: TargetLimits) => number;
  irrelevantInDiscovery: boolean;
};
type BooleanKey = {
  kind: "boolean";
  field: keyof SessionParameters;
  rule: "and" | "or";
  target: (l: TargetLimits) => boolean;
  irrelevantInDiscovery: boolean;
};
type DigestKey = {
  kind: "digest";
  field: "headerDigest" | "dataDigest";
  target: (l: TargetLimits) => DigestKind[];
};

type KeyRule =
  | NumberKey
  | BooleanKey
  | DigestKey
  /** Declarations from the initiator: recorded, not answered. */
  | { kind: "declare"; apply: (p: Partial<SessionParameters>, value: string) => boolean }
  /** Obsolete or unsupported-but-known keys with a fixed answer. */
  | { kind: "fixed"; answer: string };

const MAX_24 = 16777215;

const KEY_RULES: Record<string, KeyRule> = {
  HeaderDigest: { kind: "digest", field: "headerDigest", target: (l) => l.headerDigests },
  DataDigest: { kind: "digest", field: "dataDigest", target: (l) => l.dataDigests },
  MaxConnections: {
    kind: "number",
    field: "maxConnections",
    min: 1,
    max: 65535,
    rule: "min",
    target: () => 1,
    irrelevantInDiscovery: true,
  },
  InitialR2T: {
    kind: "boolean",
    field: "initialR2T",
    rule: "or",
    target: (l) => l.initialR2T,
    irrelevantInDiscovery: true,
  },
  ImmediateData: {
    kind: "boolean",
    field: "immediateData",
    rule: "and",
    target: (l) => l.immediateData,
    irrelevantInDiscovery: true,
  },
  MaxBurstLength: {
    kind: "number",
    field: "maxBurstLength",
    min: 512,
    max: MAX_24,
    rule: "min",
    target: (l) => l.maxBurstLength,
    irrelevantInDiscovery: true,
  },
  FirstBurstLength: {
    kind: "number",
    field: "firstBurstLength",
    min: 512,
    max: MAX_24,
    rule: "min",
    target: (l) => l.firstBurstLength,
    irrelevantInDiscovery: true,
  },
  DefaultTime2Wait: {
    kind: "number",
    field: "defaultTime2Wait",
    min: 0,
    max: 3600,
    rule: "max",
    target: (l) => l.defaultTime2Wait,
    irrelevantInDiscovery: false,
  },
  DefaultTime2Retain: {
    kind: "number",
    field: "defaultTime2Retain",
    min: 0,
    max: 3600,
    rule: "min",
    target: (l) => l.defaultTime2Retain,
    irrelevantInDiscovery: false,
  },
  MaxOutstandingR2T: {
    kind: "number",
    field: "maxOutstandingR2T",
    min: 1,
    max: 65535,
    rule: "min",
    target: (l) => l.maxOutstandingR2T,
    irrelevantInDiscovery: true,
  },
  DataPDUInOrder: {
    kind: "boolean",
    field: "dataPduInOrder",
    rule: "or",
    target: () => true,
    irrelevantInDiscovery: true,
  },
  DataSequenceInOrder: {
    kind: "boolean",
    field: "dataSequenceInOrder",
    rule: "or",
    target: () => true,
    irrelevantInDiscovery: true,
  },
  ErrorRecoveryLevel: {
    kind: "number",
    field: "errorRecoveryLevel",
    min: 0,
    max: 2,
    rule: "min",
    target: () => 0,
    irrelevantInDiscovery: false,
  },
  MaxRecvDataSegmentLength: {
    kind: "declare",
    apply: (p, v) => {
      const n = parseNumber(v);
      if (n === undefined || n < 512 || n > MAX_24) return false;
      p.initiatorMaxRecvDataSegmentLength = n;
      return true;
    },
  },
  InitiatorName: {
    kind: "declare",
    apply: (p, v) => {
      p.initiatorName = v;
      return v.length > 0;
    },
  },
  InitiatorAlias: {
    kind: "declare",
    apply: (p, v) => {
      p.initiatorAlias = v;
      return true;
    },
  },
  TargetName: {
    kind: "declare",
    apply: (p, v) => {
      p.targetName = v;
      return v.length > 0;
    },
  },
  SessionType: {
    kind: "declare",
    apply: (p, v) => {
      if (v !== "Normal" && v !== "Discovery") return false;
      p.sessionType = v;
      return true;
    },
  },
  // RFC 7143 §13.25 obsoletes markers; RFC 3720 initiators still offer them and expect "No".
  OFMarker: { kind: "fixed", answer: "No" },
  IFMarker: { kind: "fixed", answer: "No" },
  OFMarkInt: { kind: "fixed", answer: "Irrelevant" },
  IFMarkInt: { kind: "fixed", answer: "Irrelevant" },
  // RFC 7144: we implement RFC 7143 semantics only.
  iSCSIProtocolLevel: { kind: "fixed", answer: "1" },
  TaskReporting: { kind: "fixed", answer: "RFC3720" },
};

export function parseNumber(value: string): number | undefined {
  // Decimal, or hex with 0x (RFC 7143 §6.1 numerical values).
  if (/^[0-9]{1,10}$/.test(value)) return Number(value);
  if (/^0[xX][0-9a-fA-F]{1,8}$/.test(value)) return Number.parseInt(value.slice(2), 16);
  return undefined;
}

function parseBoolean(value: string): boolean | undefined {
  if (value === "Yes") return true;
  if (value === "No") return false;
  return undefined;
}

export interface NegotiationContext {
  limits: TargetLimits;
  /** Accumulates results; starts from defaults. */
  params: Partial<SessionParameters>;
}

/**
 * Answer one offered key. Returns the value to send back, or undefined for declarations that get
 * no answer. Security keys (AuthMethod, CHAP_*) are handled by the login state machine.
 */
export function negotiateKey(ctx: NegotiationContext, key: string, value: string): string | undefined {
  const rule = KEY_RULES[key];
  if (rule === undefined) return "NotUnderstood";
  const discovery = ctx.params.sessionType === "Discovery";
  switch (rule.kind) {
    case "declare":
      return rule.apply(ctx.params, value) ? undefined : "Reject";
    case "fixed":
      return rule.answer;
    case "digest": {
      const offered = value.split(",");
      const supported = rule.target(ctx.limits);
      const chosen = offered.find((v): v is DigestKind => (supported as string[]).includes(v));
      if (chosen === undefined) return "Reject";
      ctx.params[rule.field] = chosen;
      return chosen;
    }
    case "boolean": {
      if (discovery && rule.irrelevantInDiscovery) return "Irrelevant";
      const offered = parseBoolean(value);
      if (offered === undefined) return "Reject";
      const mine = rule.target(ctx.limits);
      const result = rule.rule === "and" ? offered && mine : offered || mine;
      (ctx.params as Record<string, unknown>)[rule.field] = result;
      return result ? "Yes" : "No";
    }
    case "number": {
      if (discovery && rule.irrelevantInDiscovery) return "Irrelevant";
      const offered = parseNumber(value);
      if (offered === undefined || offered < rule.min || offered > rule.max) return "Reject";
      const mine = rule.target(ctx.limits);
      const result = rule.rule === "min" ? Math.min(offered, mine) : Math.max(offered, mine);
      (ctx.params as Record<string, unknown>)[rule.field] = result;
      return String(result);
    }
  }
}

/** Whether a key is declarative (the target never answers it). */
export function isDeclarative(key: string): boolean {
  return KEY_RULES[key]?.kind === "declare";
}

/** Fill in defaults for every key never negotiated and fix up dependent values. */
export function finishParameters(
  params: Partial<SessionParameters>,
  limits: TargetLimits,
): SessionParameters {
  const merged: SessionParameters = {
    ...DEFAULT_PARAMETERS,
    initiatorName: "",
    ...params,
    targetMaxRecvDataSegmentLength: limits.maxRecvDataSegmentLength,
  };
  // FirstBurstLength must not exceed MaxBurstLength (RFC 7143 §13.14).
  if (merged.firstBurstLength > merged.maxBurstLength) merged.firstBurstLength = merged.maxBurstLength;
  return merged;
}
