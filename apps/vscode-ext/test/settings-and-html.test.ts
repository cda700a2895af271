import { HostToWebview, WebviewToHost } from "@livesnap/protocol";
import { describe, expect, it } from "vitest";
import { contentSecurityPolicy, escapeHtml, makeNonce, panelHtml } from "../src/blockmap/panel-html.js";
import { parseConnections, tokenKey, validateUrl } from "../src/connection/settings.js";
import { normaliseUrl } from "../src/connection/ws-transport.js";
import { defaultSnapshotName, validateObjectName } from "../src/snapshot-names.js";
import { summarize } from "../src/status-summary.js";

describe("saved connections", () => {
  it("keeps good entries and reports each bad one by its index", () => {
    const r = parseConnections([
      { name: "local", url: "ws://127.0.0.1:7260" },
      { name: "", url: "ws://x" },
      { name: "ftp", url: "ftp://host" },
      "nonsense",
      { name: "local", url: "ws://127.0.0.1:7261" },
      { name: "lab", url: "http://10.0.0.5:7260" },
    ]);
    expect(r.connections).toEqual([
      { name: "local", url: "ws://127.0.0.1:7260" },
      { name: "lab", url: "http://10.0.0.5:7260" },
    ]);
    expect(r.problems).toHaveLength(4);
    expect(r.problems[0]).toMatch(/^livesnap.connections\[1\]\.name/);
    expect(r.problems[1]).toMatch(/\[2\]\.url: unsupported URL scheme ftp:/);
    expect(r.problems[3]).toMatch(/used twice/);
    expect(parseConnections({}).problems).toEqual(["livesnap.connections must be an array"]);
  });

  it("normalises URLs to the WebSocket endpoint; tokens are keyed per endpoint", () => {
    expect(normaliseUrl("ws://127.0.0.1:7260")).toBe("ws://127.0.0.1:7260/v1/ws");
    expect(normaliseUrl("http://127.0.0.1:7260/")).toBe("ws://127.0.0.1:7260/v1/ws");
    expect(normaliseUrl("wss://h/custom")).toBe("wss://h/custom");
    expect(tokenKey("ws://127.0.0.1:7260")).toBe(tokenKey("http://127.0.0.1:7260/"));
    expect(validateUrl("not a url")).toMatch(/not a URL/);
    expect(validateUrl("ws://127.0.0.1:7260")).toBeUndefined();
  });
});

describe("snapshot names", () => {
  it("the default name is valid for the server and sortable", () => {
    const name = defaultSnapshotName(new Date(2026, 10, 24, 23, 5, 9));
    expect(name).toBe("live-20261124-230509");
    expect(validateObjectName(name)).toBeUndefined();
    expect(validateObjectName("bad name")).toBeDefined();
    expect(validateObjectName("")).toBeDefined();
  });
});

describe("block-map webview HTML", () => {
  const html = panelHtml({
    cspSource: "https://file+.vscode-resource.vscode-cdn.net",
    nonce: "abc123",
    scriptUri: "https://x/dist/webview.js",
    styleUri: "https://x/media/webview.css",
    volume: 'vol"<0>',
    cellSize: 8,
    live: true,
  });

  it("has a strict CSP: no default sources, scripts only by nonce, no inline styles", () => {
    const csp = contentSecurityPolicy("https://src", "n0nce");
    expect(csp).toContain("default-src 'none'");
    expect(csp).toContain("script-src 'nonce-n0nce'");
    expect(csp).not.toContain("unsafe-inline");
    expect(csp).not.toContain("unsafe-eval");
    expect(html).toContain(
      `content="${contentSecurityPolicy("https://file+.vscode-resource.vscode-cdn.net", "abc123")}"`,
    );
    // every script tag carries the nonce; there is no inline script body
    const scripts = html.match(/<script[^>]*>/g) ?? [];
    expect(scripts.length).toBe(1);
    expect(scripts[0]).toContain('nonce="abc123"');
    expect(html).not.toMatch(/style="/);
    expect(html).not.toMatch(/ on[a-z]+="/);
  });

  it("escapes the volume name everywhere", () => {
    expect(html).not.toContain('vol"<0>');
    expect(html).toContain(escapeHtml('vol"<0>'));
  });

  it("the canvas is keyboard focusable and labelled; the legend and status are exposed", () => {
    expect(html).toMatch(/<canvas id="map" tabindex="0" role="img" aria-label=/);
    expect(html).toContain('aria-live="polite"');
    expect(html).toContain('id="legend" aria-label="Legend"');
  });

  it("nonces are fresh and long", () => {
    const a = makeNonce();
    expect(a).not.toBe(makeNonce());
    expect(a.length).toBeGreaterThanOrEqual(22);
  });
});

describe("webview messages (protocol schemas)", () => {
  it("accepts what the panel sends and rejects junk", () => {
    expect(
      WebviewToHost.safeParse({ type: "request-blockmap", volume: "vol0", buckets: 100, requestId: 3 })
        .success,
    ).toBe(true);
    expect(WebviewToHost.safeParse({ type: "request-blockmap", volume: "vol0", buckets: 0 }).success).toBe(
      false,
    );
    expect(HostToWebview.safeParse({ type: "focus", diff: { from: "s1" } }).success).toBe(true);
    expect(HostToWebview.safeParse({ type: "delta", volume: "v", chunkSize: 0, runs: [] }).success).toBe(
      false,
    );
  });
});

describe("status bar summary", () => {
  it("reports one, several, failing and no targets", () => {
    expect(summarize([]).severity).toBe("idle");
    const one = summarize([{ name: "local", url: "ws://h", status: { kind: "connected" } }]);
    expect(one).toMatchObject({ text: "$(vm-active) livesnap local", severity: "ok" });
    const mixed = summarize([
      { name: "a", url: "ws://a", status: { kind: "connected" } },
      { name: "b", url: "ws://b", status: { kind: "error", message: "ECONNREFUSED" } },
    ]);
    expect(mixed).toMatchObject({ text: "$(error) livesnap 1/2", severity: "warning" });
    expect(mixed.tooltip).toContain("b (ws://b): error: ECONNREFUSED");
    expect(summarize([{ name: "b", url: "ws://b", status: { kind: "no-token" } }]).severity).toBe("error");
  });
});
