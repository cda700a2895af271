// SendTargets (RFC 7143 Appendix C): the text answer listing targets and their portals.
import type { TextPairs } from "./text.js";

export interface DiscoverableTarget {
  name: string;
  /** "host:port,tpgt" entries; IPv6 hosts in brackets. */
  addresses: string[];
}

/**
 * value: "All" (every target the initiator may see), a target name (that one), or empty (the
 * session's own target in a normal session).
 */
export function sendTargetsAnswer(
  value: string,
  targets: readonly DiscoverableTarget[],
  sessionTarget: string | undefined,
): TextPairs {
  let chosen: readonly DiscoverableTarget[];
  if (value === "All") chosen = targets;
  else if (value === "") chosen = targets.filter((t) => t.name === sessionTarget);
  else chosen = targets.filter((t) => t.name === value);
  const pairs: TextPairs = [];
  for (const t of chosen) {
    pairs.push(["TargetName", t.name]);
    for (const a of t.addresses) pairs.push(["TargetAddress", a]);
  }
  return pairs;
}

export function formatTargetAddress(host: string, port: number, tpgt: number): string {
  const h = host.includes(":") ? `[${host}]` : host;
  return `${h}:${port},${tpgt}`;
}
