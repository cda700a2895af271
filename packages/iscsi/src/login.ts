// The target side of the login phase (RFC 7143 §6.3, §13): stages, key answers, CHAP. Pure:
// the transport feeds decoded Login Requests and sends back the answers; sequence numbers, ISID
// and TSIH are the transport's.
import {
  type ChapChallenge,
  type ChapCredentials,
  chapResponse,
  chooseChapAlgorithm,
  decodeBinaryValue,
  encodeHexValue,
  newChallenge,
  verifyChapResponse,
} from "./chap.js";
import { finishParameters, negotiateKey, type SessionParameters, type TargetLimits } from "./negotiation.js";
import { LoginStatus } from "./opcodes.js";
import type { LoginRequest } from "./requests.js";
import { parseText, serializeText, type TextPairs } from "./text.js";

export const LoginStage = { security: 0, operational: 1, fullFeature: 3 } as const;

export interface LoginTarget {
  name: string;
  alias?: string;
  /** When set, initiators must authenticate with CHAP using these credentials. */
  chap?: ChapCredentials;
  /** The target's own credentials, for initiators that ask for mutual CHAP. */
  mutualChap?: ChapCredentials;
  /** Initiator names allowed to log in; undefined = any. */
  allowedInitiators?: readonly string[];
}

export interface LoginConfig {
  portalGroupTag: number;
  limits: TargetLimits;
  findTarget(name: string): LoginTarget | undefined;
  /** CHAP required for discovery sessions, if set. */
  discoveryChap?: ChapCredentials;
  discoveryMutualChap?: ChapCredentials;
}

export interface LoginAnswer {
  transit: boolean;
  currentStage: number;
  nextStage: number;
  /** (class << 8) | detail, see LoginStatus. */
  status: number;
  data: Buffer;
}

export type LoginOutcome =
  | { kind: "continue"; answer: LoginAnswer }
  | { kind: "complete"; answer: LoginAnswer; params: SessionParameters; target: LoginTarget | undefined }
  | { kind: "fail"; answer: LoginAnswer; reason: string };

type AuthState = "start" | "chap-chosen" | "challenged" | "done";

export class LoginNegotiation {
  private stage: number | undefined;
  private pendingText: Buffer[] = [];
  private readonly params: Partial<SessionParameters> = {};
  private target: LoginTarget | undefined;
  private authRequired = false;
  private auth: AuthState = "start";
  private challenge: ChapChallenge | undefined;
  private declaredLimits = false;
  private firstAnswer = true;

  constructor(private readonly config: LoginConfig) {}

  /** Names known once the first request is processed (for logs and session keys). */
  get initiatorName(): string | undefined {
    return this.params.initiatorName;
  }

  get targetName(): string | undefined {
    return this.target?.name;
  }

  handle(req: LoginRequest): LoginOutcome {
    const stage = req.currentStage;
    if (req.continue) {
      // A key=value split across PDUs: acknowledge with an empty answer and wait for the rest.
      this.pendingText.push(req.data);
      if (this.pendingText.reduce((n, b) => n + b.length, 0) > 65536)
        return this.fail(LoginStatus.initiatorError, "login text too long");
      return {
        kind: "continue",
        answer: { transit: false, currentStage: stage, nextStage: 0, status: 0, data: Buffer.alloc(0) },
      };
    }
    const text = this.pendingText.length > 0 ? Buffer.concat([...this.pendingText, req.data]) : req.data;
    this.pendingText = [];

    if (stage !== LoginStage.security && stage !== LoginStage.operational) {
      return this.fail(LoginStatus.initiatorError, `invalid current stage ${stage}`);
    }
    if (this.stage === undefined) {
      if (req.versionMin > 0)
        return this.fail(LoginStatus.unsupportedVersion, `version-min ${req.versionMin}`);
    } else if (stage !== this.stage) {
      return this.fail(LoginStatus.initiatorError, `stage ${stage} out of sequence (expected ${this.stage})`);
    }
    if (req.transit && (req.nextStage <= stage || req.nextStage === 2)) {
      return this.fail(LoginStatus.initiatorError, `invalid transition ${stage} -> ${req.nextStage}`);
    }

    let pairs: TextPairs;
    try {
      pairs = parseText(text);
    } catch (e) {
      return this.fail(LoginStatus.initiatorError, (e as Error).message);
    }

    const answers: TextPairs = [];
    if (this.stage === undefined) {
      const failure = this.firstRequest(pairs, answers);
      if (failure) return failure;
      this.stage = stage;
    }

    const chapIn = new Map<string, string>();
    for (const [key, value] of pairs) {
      if (key === "AuthMethod") {
        if (stage !== LoginStage.security) {
          answers.push([key, "Irrelevant"]);
          continue;
        }
        const offered = value.split(",");
        const acceptable = this.authRequired ? ["CHAP"] : ["None"];
        const chosen = offered.find((m) => acceptable.includes(m));
        if (chosen === undefined) {
          answers.push([key, "Reject"]);
          return this.fail(
            LoginStatus.authenticationFailure,
            `no acceptable AuthMethod in ${value}`,
            answers,
          );
        }
        answers.push([key, chosen]);
        this.auth = chosen === "CHAP" ? "chap-chosen" : "done";
        continue;
      }
      if (key.startsWith("CHAP_")) {
        if (stage !== LoginStage.security || this.auth === "start" || this.auth === "done") {
          return this.fail(LoginStatus.initiatorError, `unexpected ${key}`);
        }
        chapIn.set(key, value);
        continue;
      }
      const answer = negotiateKey({ limits: this.config.limits, params: this.params }, key, value);
      if (answer !== undefined) answers.push([key, answer]);
    }

    if (chapIn.size > 0) {
      const failure = this.chapStep(chapIn, answers);
      if (failure) return failure;
    }

    let transit = req.transit;
    if (stage === LoginStage.security && this.authRequired && this.auth !== "done") {
      if (this.auth === "start" && transit) {
        return this.fail(LoginStatus.authenticationFailure, "authentication required", answers);
      }
      transit = false; // CHAP still in progress
    }
    if (stage === LoginStage.security && this.auth === "start" && !this.authRequired) this.auth = "done";
    if (stage === LoginStage.operational && this.authRequired && this.auth !== "done") {
      return this.fail(LoginStatus.authenticationFailure, "authentication required");
    }

    // Operational keys belong in operational-stage PDUs: initiators (open-iscsi) refuse them in a
    // security-stage response, so declare in the first operational answer — or in the security
    // answer only when the login skips the operational stage (0 -> 3).
    const declareNow =
      stage === LoginStage.operational || (transit && req.nextStage === LoginStage.fullFeature);
    if (declareNow && !this.declaredLimits) {
      // Declarative: tells the initiator how large a data segment it may send us.
      answers.push(["MaxRecvDataSegmentLength", String(this.config.limits.maxRecvDataSegmentLength)]);
      this.declaredLimits = true;
    }

    const answer: LoginAnswer = {
      transit,
      currentStage: stage,
      nextStage: transit ? req.nextStage : 0,
      status: LoginStatus.success,
      data: serializeText(answers),
    };
    if (transit && req.nextStage === LoginStage.fullFeature) {
      return {
        kind: "complete",
        answer,
        params: finishParameters(this.params, this.config.limits),
        target: this.target,
      };
    }
    if (transit) this.stage = req.nextStage;
    return { kind: "continue", answer };
  }

  private firstRequest(pairs: TextPairs, answers: TextPairs): LoginOutcome | undefined {
    const keys = new Map(pairs);
    const initiatorName = keys.get("InitiatorName");
    if (!initiatorName) return this.fail(LoginStatus.missingParameter, "InitiatorName missing");
    const sessionType = keys.get("SessionType") ?? "Normal";
    if (sessionType !== "Normal" && sessionType !== "Discovery") {
      return this.fail(LoginStatus.sessionTypeNotSupported, `SessionType ${sessionType}`);
    }
    this.params.sessionType = sessionType;
    if (sessionType === "Discovery") {
      this.authRequired = this.config.discoveryChap !== undefined;
      return undefined;
    }
    const targetName = keys.get("TargetName");
    if (!targetName) return this.fail(LoginStatus.missingParameter, "TargetName missing");
    const target = this.config.findTarget(targetName);
    if (!target) return this.fail(LoginStatus.targetNotFound, `no target ${targetName}`);
    if (target.allowedInitiators && !target.allowedInitiators.includes(initiatorName)) {
      return this.fail(LoginStatus.authorizationFailure, `${initiatorName} not allowed on ${targetName}`);
    }
    this.target = target;
    this.authRequired = target.chap !== undefined;
    if (this.firstAnswer) {
      // RFC 7143 §13.9: sent in the first Login Response of a normal session's leading connection.
      answers.push(["TargetPortalGroupTag", String(this.config.portalGroupTag)]);
      if (target.alias) answers.push(["TargetAlias", target.alias]);
      this.firstAnswer = false;
    }
    return undefined;
  }

  private credentials(): { chap?: ChapCredentials; mutual?: ChapCredentials } {
    if (this.params.sessionType === "Discovery") {
      return { chap: this.config.discoveryChap, mutual: this.config.discoveryMutualChap };
    }
    return { chap: this.target?.chap, mutual: this.target?.mutualChap };
  }

  private chapStep(chapIn: Map<string, string>, answers: TextPairs): LoginOutcome | undefined {
    if (this.auth === "chap-chosen") {
      const offer = chapIn.get("CHAP_A");
      const alg = offer === undefined ? undefined : chooseChapAlgorithm(offer);
      if (alg === undefined) {
        answers.push(["CHAP_A", "Reject"]);
        return this.fail(LoginStatus.authenticationFailure, `no supported CHAP_A in ${offer}`, answers);
      }
      this.challenge = newChallenge(alg);
      answers.push(["CHAP_A", String(alg)]);
      answers.push(["CHAP_I", String(this.challenge.id)]);
      answers.push(["CHAP_C", encodeHexValue(this.challenge.challenge)]);
      this.auth = "challenged";
      return undefined;
    }
    // auth === "challenged": the initiator's name and response, maybe its own challenge.
    const challenge = this.challenge as ChapChallenge;
    const { chap, mutual } = this.credentials();
    const name = chapIn.get("CHAP_N");
    const responseText = chapIn.get("CHAP_R");
    const response = responseText === undefined ? undefined : decodeBinaryValue(responseText);
    if (!chap || name === undefined || response === undefined) {
      return this.fail(LoginStatus.authenticationFailure, "CHAP_N/CHAP_R missing or malformed");
    }
    if (name !== chap.username || !verifyChapResponse(challenge, chap.secret, response)) {
      return this.fail(LoginStatus.authenticationFailure, `CHAP response from ${name} does not verify`);
    }
    const theirId = chapIn.get("CHAP_I");
    const theirChallengeText = chapIn.get("CHAP_C");
    if (theirId !== undefined || theirChallengeText !== undefined) {
      const id = theirId === undefined ? Number.NaN : Number(theirId);
      const theirChallenge =
        theirChallengeText === undefined ? undefined : decodeBinaryValue(theirChallengeText);
      if (
        !mutual ||
        !Number.isInteger(id) ||
        id < 0 ||
        id > 255 ||
        !theirChallenge ||
        theirChallenge.length === 0
      ) {
        return this.fail(LoginStatus.authenticationFailure, "mutual CHAP not possible");
      }
      // Reflection attack: the initiator replays our own challenge to make us answer it.
      if (theirChallenge.equals(challenge.challenge)) {
        return this.fail(LoginStatus.authenticationFailure, "mutual CHAP challenge reflects ours");
      }
      answers.push(["CHAP_N", mutual.username]);
      answers.push([
        "CHAP_R",
        encodeHexValue(chapResponse(challenge.alg, id, mutual.secret, theirChallenge)),
      ]);
    }
    this.auth = "done";
    return undefined;
  }

  private fail(status: number, reason: string, answers: TextPairs = []): LoginOutcome {
    return {
      kind: "fail",
      reason,
      answer: {
        transit: false,
        currentStage: this.stage ?? 0,
        nextStage: 0,
        status,
        data: serializeText(answers),
      },
    };
  }
}
