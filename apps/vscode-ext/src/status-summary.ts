// The status-bar item's text: one glance at every target's connection. Pure.
import type { ConnectionStatus } from "./connection/target-state.js";

export interface StatusSummary {
  text: string;
  tooltip: string;
  /** "error" paints the item with the theme's error background. */
  severity: "ok" | "warning" | "error" | "idle";
}

export function summarize(entries: { name: string; url: string; status: ConnectionStatus }[]): StatusSummary {
  if (entries.length === 0) {
    return { text: "$(vm-outline) livesnap", tooltip: "livesnap: no targets configured", severity: "idle" };
  }
  const connected = entries.filter((e) => e.status.kind === "connected").length;
  const failing = entries.filter((e) => e.status.kind === "error" || e.status.kind === "no-token").length;
  const connecting = entries.some((e) => e.status.kind === "connecting");
  const icon = connecting
    ? "$(sync~spin)"
    : failing > 0
      ? "$(error)"
      : connected > 0
        ? "$(vm-active)"
        : "$(vm-outline)";
  const label = entries.length === 1 ? (entries[0]?.name ?? "") : `${connected}/${entries.length}`;
  const lines = entries.map((e) => {
    const s = e.status;
    const what = s.kind === "error" ? `error: ${s.message}` : s.kind === "no-token" ? "no token set" : s.kind;
    return `${e.name} (${e.url}): ${what}`;
  });
  return {
    text: `${icon} livesnap ${label}`,
    tooltip: lines.join("\n"),
    severity: failing > 0 ? (connected > 0 ? "warning" : "error") : connected > 0 ? "ok" : "idle",
  };
}
