// The block-map webview's HTML. Strict CSP: nothing inline, scripts only with this load's nonce,
// styles and images only from the extension's own files. Pure, so the CSP is unit-tested.

export interface PanelHtmlInput {
  /** webview.cspSource */
  cspSource: string;
  nonce: string;
  scriptUri: string;
  styleUri: string;
  volume: string;
  cellSize: number;
  live: boolean;
}

export function contentSecurityPolicy(cspSource: string, nonce: string): string {
  return [
    "default-src 'none'",
    `img-src ${cspSource} data:`,
    `style-src ${cspSource}`,
    `font-src ${cspSource}`,
    `script-src 'nonce-${nonce}'`,
  ].join("; ");
}

const ESCAPES: Record<string, string> = {
  "&": "&amp;",
  "<": "&lt;",
  ">": "&gt;",
  '"': "&quot;",
  "'": "&#39;",
};
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ESCAPES[c] ?? c);
}

/** 128 bits from a CSPRNG, base64url. */
export function makeNonce(): string {
  const bytes = new Uint8Array(16);
  crypto.getRandomValues(bytes);
  return Buffer.from(bytes).toString("base64url");
}

export function panelHtml(input: PanelHtmlInput): string {
  const config = escapeHtml(
    JSON.stringify({ volume: input.volume, cellSize: input.cellSize, live: input.live }),
  );
  const volume = escapeHtml(input.volume);
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="UTF-8">
<meta http-equiv="Content-Security-Policy" content="${contentSecurityPolicy(input.cspSource, input.nonce)}">
<meta name="viewport" content="width=device-width, initial-scale=1.0">
<link rel="stylesheet" href="${escapeHtml(input.styleUri)}">
<title>Block map: ${volume}</title>
</head>
<body data-config="${config}">
<header>
  <h1 id="title">Block map: ${volume}</h1>
  <label>View <select id="view" aria-label="View: live volume or a snapshot"><option value="">Live volume</option></select></label>
  <label>Since <select id="since" aria-label="Mark chunks written since this snapshot"><option value="">—</option></select></label>
  <label><input type="checkbox" id="diff"> Diff</label>
  <span role="group" aria-label="Zoom">
    <button id="zoom-out" title="Zoom out (-)" aria-label="Zoom out">−</button>
    <button id="zoom-in" title="Zoom in (+)" aria-label="Zoom in">+</button>
    <button id="fit" title="Whole volume (0)">Fit</button>
  </span>
  <button id="take-snapshot" class="primary">Take live snapshot</button>
</header>
<ul id="legend" aria-label="Legend"></ul>
<div id="map-wrap">
  <canvas id="map" tabindex="0" role="img" aria-label="Block map of ${volume}"></canvas>
  <div id="hover" hidden></div>
</div>
<footer><span id="status" aria-live="polite"></span><span id="error" role="alert"></span></footer>
<div id="cell-info" class="sr-only" aria-live="polite"></div>
<script nonce="${input.nonce}" src="${escapeHtml(input.scriptUri)}"></script>
</body>
</html>`;
}
