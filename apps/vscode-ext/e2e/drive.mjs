// End-to-end test of the livesnap extension in a real VS Code (code-server) driven by playwright-core
// in Debian's headless Chromium, against the REAL livesnap target. Started by e2e/run.sh, which has
// installed the .vsix into a fresh profile and started code-server.
//
// Story: the extension activates; with no target configured the welcome view shows; a connection is
// added from the palette while the target is down (error state); the target starts (real daemon,
// real iSCSI portal); a wrong token is refused; the right one (from the data dir) connects; the tree
// shows volumes; a writer writes through iscsi:// with qemu-io; the block map lights up; a live
// snapshot is taken from the palette while the writer runs; it appears in the tree and the block map
// changes (preserved chunks, written-since, diff); a 16 TiB volume's map renders and zooms.
//
// env: VSCODE_URL, OUT_DIR, RUN_DIR, TARGET_JS. Prints `E2E: N passed, N failed` last.
// biome-ignore-all lint/performance/useDomNodeTextContent: these are Playwright locators: innerText is the rendered text the user sees
import { spawn, spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { join } from "node:path";
import { chromium } from "playwright-core";

const url = process.env.VSCODE_URL;
const outDir = process.env.OUT_DIR ?? ".";
const runDir = process.env.RUN_DIR ?? mkdtempSync("/tmp/livesnap-e2e-");
const targetJs = process.env.TARGET_JS;
const TIMEOUT = Number(process.env.E2E_TIMEOUT_MS ?? 30000);
if (!url || !targetJs) {
  console.error("VSCODE_URL and TARGET_JS must be set (run e2e/run.sh)");
  console.log("E2E: 0 passed, 1 failed");
  process.exit(2);
}
mkdirSync(outDir, { recursive: true });

const t0 = Date.now();
const stamp = (msg) => console.log(`[${((Date.now() - t0) / 1000).toFixed(1)}s] ${msg}`);
const results = [];
let aborted = false;

/** One named check: records pass/fail, keeps going (later checks may fail fast for the same cause). */
async function check(name, fn) {
  if (aborted) {
    results.push({ name, ok: false, error: "skipped after a fatal failure" });
    console.log(`FAIL ${name}: not run (an earlier fatal failure)`);
    return undefined;
  }
  try {
    const value = await fn();
    results.push({ name, ok: true });
    stamp(`ok   ${name}`);
    return value;
  } catch (err) {
    results.push({ name, ok: false, error: String(err?.message ?? err) });
    stamp(`FAIL ${name}: ${String(err?.message ?? err).split("\n")[0]}`);
    try {
      await page?.screenshot({ path: join(outDir, `failure-${results.length}.png`) });
    } catch {}
    return undefined;
  }
}

function freePort() {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function until(what, fn, timeoutMs = TIMEOUT, everyMs = 250) {
  const end = Date.now() + timeoutMs;
  let last;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v;
    } catch (err) {
      last = err;
    }
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}${last ? ` (${last.message})` : ""}`);
    await sleep(everyMs);
  }
}

// ------------------------------------------------------------------ the real target

const apiPort = await freePort();
const portalPort = await freePort();
const dataDir = join(runDir, "target-data");
const iqn = "iqn.2026-11.dev.livesnap:e2e";
let target;
let token;

function startTarget() {
  mkdirSync(dataDir, { recursive: true });
  const config = join(runDir, "target-config.json");
  writeFileSync(config, JSON.stringify({ targets: [{ iqn, autoVolumes: true }] }, null, 2));
  const log = openSync(join(runDir, "target.log"), "a");
  target = spawn(
    process.execPath,
    [
      targetJs,
      "serve",
      "--data-dir",
      dataDir,
      "--config",
      config,
      "--api",
      `127.0.0.1:${apiPort}`,
      "--portal",
      `127.0.0.1:${portalPort}`,
      "--json",
    ],
    { stdio: ["ignore", "pipe", log] },
  );
  return new Promise((resolve, reject) => {
    let out = "";
    const timer = setTimeout(
      () => reject(new Error("target: no ready line within 20 s (see target.log)")),
      20000,
    );
    target.stdout.on("data", (d) => {
      out += d;
      const line = out.split("\n").find((l) => l.includes('"ready"'));
      if (line) {
        clearTimeout(timer);
        resolve(JSON.parse(line));
      }
    });
    target.once("exit", (code) => {
      clearTimeout(timer);
      reject(
        new Error(
          `target exited with ${code} before it was ready: ${readFileSync(join(runDir, "target.log"), "utf8").slice(-800)}`,
        ),
      );
    });
  });
}

async function stopTarget() {
  if (!target || target.exitCode !== null) return;
  target.kill("SIGTERM");
  const exited = await Promise.race([new Promise((r) => target.once("exit", () => r(true))), sleep(10000)]);
  if (!exited) target.kill("SIGKILL");
}

let rpcId = 1;
async function rpc(method, params = {}) {
  const res = await fetch(`http://127.0.0.1:${apiPort}/v1/rpc`, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Bearer ${token}` },
    body: JSON.stringify({ jsonrpc: "2.0", id: rpcId++, method, params }),
  });
  const body = await res.json();
  if (body.error) throw new Error(`${method}: ${body.error.message}`);
  return body.result;
}

// ------------------------------------------------------------------ writer: qemu-io through iscsi://

const writer = { running: false, ok: 0, failed: 0, lastError: "" };
async function runWriter(lunUrl, chunkSize, chunks) {
  writer.running = true;
  let pattern = 1;
  while (writer.running) {
    // 8 writes per login, to chunks in the first quarter so later writes overwrite snapshotted data.
    const cmds = [];
    for (let i = 0; i < 8; i++) {
      const chunk = Math.floor(Math.random() * Math.max(1, Math.floor(chunks / 4)));
      cmds.push("-c", `write -P ${pattern++ % 250} ${chunk * chunkSize} 64k`);
    }
    const r = await new Promise((resolve) => {
      const p = spawn("qemu-io", ["-f", "raw", ...cmds, lunUrl], { stdio: ["ignore", "pipe", "pipe"] });
      let err = "";
      p.stderr.on("data", (d) => (err += d));
      p.stdout.on("data", (d) => (err += d));
      p.on("exit", (code) => resolve({ code, err }));
      p.on("error", (e) => resolve({ code: -1, err: e.message }));
    });
    if (r.code === 0 && !/error|failed/i.test(r.err)) writer.ok++;
    else {
      writer.failed++;
      writer.lastError = r.err.trim().split("\n").slice(-2).join(" ");
      await sleep(500);
    }
    await sleep(150);
  }
}

// ------------------------------------------------------------------ the browser

const profile = mkdtempSync(join(runDir, "chromium-"));
const context = await chromium.launchPersistentContext(profile, {
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  headless: true,
  args: [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
  ],
  viewport: { width: 1400, height: 900 },
});
const blocked = [];
await context.route("**/*", (route) => {
  const u = new URL(route.request().url());
  const h = u.hostname;
  const local = h === "localhost" || h.endsWith(".localhost") || h.startsWith("127.") || h === "[::1]";
  if (local || !/^(https?|wss?):$/.test(u.protocol)) return route.continue();
  blocked.push(u.href);
  return route.abort();
});
const page = context.pages()[0] ?? (await context.newPage());
const pageErrors = [];
page.on("pageerror", (e) => pageErrors.push(String(e)));

const quickInput = page.locator(".quick-input-widget .quick-input-box input.input").filter({ visible: true });

async function openPalette() {
  await page.keyboard.press("Escape");
  await page.keyboard.press("F1");
  try {
    await quickInput.waitFor({ timeout: 4000 });
  } catch {
    await page.locator(".part.sidebar .composite.title").first().click();
    await page.keyboard.press("F1");
    await quickInput.waitFor({ timeout: TIMEOUT });
  }
}

async function runCommand(title) {
  await openPalette();
  await quickInput.fill(`>${title}`);
  const row = page.locator(".quick-input-list .monaco-list-row", { hasText: title }).first();
  await row.waitFor({ timeout: TIMEOUT });
  await page.keyboard.press("Enter");
  stamp(`palette: ${title}`);
}

const quickTitle = page.locator(".quick-input-widget .quick-input-title").filter({ visible: true });

/**
 * Answers one step of a multi-step quick input: waits until the step titled `title` is showing (VS
 * Code reuses one widget, so typing before the step changes would go into the previous one), types
 * `text`, waits for a matching row when picking, presses Enter, and waits for the step to go away.
 */
async function answer(title, text, { pick = false } = {}) {
  await until(`quick input "${title}"`, async () =>
    (await quickTitle.innerText().catch(() => "")).includes(title),
  );
  await quickInput.fill(text);
  if (pick) {
    await page
      .locator(".quick-input-list .monaco-list-row", { hasText: text })
      .first()
      .waitFor({ timeout: TIMEOUT });
  }
  await page.keyboard.press("Enter");
  await until(`quick input "${title}" to close`, async () => {
    const t = await quickTitle.innerText({ timeout: 200 }).catch(() => "");
    return !t.includes(title);
  });
}

const treePane = () => page.locator(".pane", { has: page.locator(".pane-header", { hasText: "Targets" }) });
const treeRow = (text) => treePane().locator(".monaco-list-row", { hasText: text }).first();

/** The frame holding the block-map webview (iframe.webview > #active-frame). */
async function blockMapFrame(title) {
  return until(`block-map webview "${title}"`, async () => {
    for (const f of page.frames()) {
      const h = await f.$("#title").catch(() => null);
      if (h && (await h.textContent())?.includes(title)) return f;
    }
    return undefined;
  });
}

async function shot(name) {
  await page.mouse.move(1390, 890);
  await sleep(300);
  await page.screenshot({ path: join(outDir, name) });
}

try {
  await page.goto(url);
  await page.locator(".monaco-workbench").waitFor({ timeout: 60000 });
  stamp("workbench loaded");

  await check("extension activates: livesnap view container and Targets view", async () => {
    const item = page.locator('.activitybar .action-item a[aria-label^="livesnap"]').first();
    await item.waitFor({ timeout: TIMEOUT });
    await item.click();
    // With one view in the container VS Code hides the pane header and titles the side bar instead.
    await page
      .locator(".part.sidebar .composite.title", { hasText: /livesnap/i })
      .first()
      .waitFor({ timeout: TIMEOUT });
    await treePane().waitFor({ state: "attached", timeout: TIMEOUT });
  });

  await check("welcome view offers to add a target when none is configured", async () => {
    await page.getByText("No livesnap targets are configured").waitFor({ timeout: TIMEOUT });
  });

  await check("status bar item is present", async () => {
    await page.locator(".statusbar-item", { hasText: "livesnap" }).first().waitFor({ timeout: TIMEOUT });
  });

  await check("palette lists the livesnap commands", async () => {
    await openPalette();
    await quickInput.fill(">livesnap:");
    const rows = page.locator(".quick-input-list .monaco-list-row");
    await rows.first().waitFor({ timeout: TIMEOUT });
    const text = (await page.locator(".quick-input-list").innerText()).replace(/\s+/g, " ");
    for (const c of ["Add Target Connection", "Take Live Snapshot", "Open Block Map"]) {
      if (!text.includes(c)) throw new Error(`"${c}" missing from the palette: ${text.slice(0, 300)}`);
    }
    await page.keyboard.press("Escape");
  });

  await check("add a connection from the palette while the target is down: error state in tree", async () => {
    await runCommand("livesnap: Add Target Connection…");
    await answer("(1/3)", `ws://127.0.0.1:${apiPort}`);
    await answer("(2/3)", "e2e");
    await answer("(3/3)", "not-the-token");
    await treeRow("e2e").waitFor({ timeout: TIMEOUT });
    await treeRow("Cannot connect").waitFor({ timeout: TIMEOUT });
    const text = await treeRow("Cannot connect").innerText();
    if (!/ECONNREFUSED/.test(text)) throw new Error(`unexpected error text: ${text}`);
    await page.locator(".statusbar-item", { hasText: "livesnap e2e" }).first().waitFor({ timeout: TIMEOUT });
    await shot("01-connection-error.png");
  });

  const ready = await check("the real livesnap target starts on free loopback ports", async () => {
    const r = await startTarget();
    token = readFileSync(join(dataDir, "api-token"), "utf8").trim();
    if (!token) throw new Error("empty api-token");
    return r;
  });
  if (!ready) aborted = true;

  const volumes = await check(
    "volumes created through the API (vol0 256 MiB, big0 16 TiB - 64 KiB thin)",
    async () => {
      await rpc("volume.create", { name: "vol0", sizeBytes: 256 * 2 ** 20, chunkSize: 65536 });
      // 16 TiB less one chunk: ext4 caps a (sparse) file at 16 TiB - 4 KiB, and the engine keeps the
      // origin image in one file.
      await rpc("volume.create", { name: "big0", sizeBytes: 16 * 2 ** 40 - 65536, chunkSize: 65536 });
      const { volumes } = await rpc("volume.list");
      return volumes;
    },
  );
  if (!volumes) aborted = true;

  await check("a wrong token is refused (unauthorized, no retry loop)", async () => {
    await runCommand("livesnap: Connect to Target…");
    await until("an unauthorized error in the tree", async () => {
      const t = await treePane().innerText();
      return /unauthori|token rejected|401/i.test(t);
    });
  });

  await check(
    "set the right token (from the data dir) from the palette: connected, tree shows volumes",
    async () => {
      await runCommand("livesnap: Set Token for Target…");
      await answer("Token for", token);
      for (const t of ["vol0", "big0", "iSCSI targets", "Sessions"])
        await treeRow(t).waitFor({ timeout: TIMEOUT });
      await page
        .locator(".statusbar-item", { hasText: "livesnap e2e" })
        .first()
        .waitFor({ timeout: TIMEOUT });
      await shot("02-tree-connected.png");
    },
  );

  const lun = await check("the volume is served as an iSCSI LUN (tree: iSCSI targets → LUN)", async () => {
    const { targets } = await rpc("target.list");
    const l = targets
      .flatMap((t) => t.luns)
      .find((x) => x.source.kind === "volume" && x.source.volume === "vol0");
    if (!l) throw new Error(`no LUN for vol0 in ${JSON.stringify(targets)}`);
    await treeRow("iSCSI targets").click();
    await treeRow(iqn).waitFor({ timeout: TIMEOUT });
    return l;
  });

  await check("a writer writes to vol0 through iscsi:// (qemu-io)", async () => {
    if (!lun) throw new Error("no LUN");
    const u = `iscsi://127.0.0.1:${portalPort}/${iqn}/${lun.lun}`;
    void runWriter(u, 65536, (256 * 2 ** 20) / 65536);
    await until(
      "first successful qemu-io write",
      () => writer.ok > 0 || (writer.failed > 3 && Promise.reject(new Error(writer.lastError))),
      20000,
    );
  });

  let frame;
  await check(
    "open the block map of vol0 from the palette: canvas, legend, live writes light up",
    async () => {
      await runCommand("livesnap: Open Block Map…");
      await answer("Volume", "vol0", { pick: true });
      frame = await blockMapFrame("Block map: vol0");
      await until("first map", () => frame.evaluate(() => document.body.dataset.classes));
      const cells = Number(await frame.getAttribute("#map", "data-cells"));
      if (!(cells > 100)) throw new Error(`only ${cells} cells drawn`);
      const legend = await frame.locator("#legend li").count();
      if (legend < 2) throw new Error(`legend has ${legend} entries`);
      await until("a live-write delta in the webview", () =>
        frame.evaluate(() => Number(document.body.dataset.deltas ?? "0") > 0),
      );
      await shot("03-block-map-live.png");
    },
  );

  const canvasBefore = frame
    ? await frame.evaluate(() => document.getElementById("map").toDataURL()).catch(() => "")
    : "";

  await check("take a live snapshot from the palette while the writer runs", async () => {
    const okBefore = writer.ok;
    await runCommand("livesnap: Take Live Snapshot…");
    await answer("Volume", "vol0", { pick: true });
    await answer("Take live snapshot of", "e2e-snap-1");
    await page
      .locator(".notifications-toasts", { hasText: "Live snapshot e2e-snap-1 of vol0 taken" })
      .waitFor({
        timeout: TIMEOUT,
      });
    await until("writes after the snapshot", () => writer.ok > okBefore + 1, 20000);
  });

  await check("the snapshot appears in the tree", async () => {
    await treeRow("e2e-snap-1").waitFor({ timeout: TIMEOUT });
  });

  await check("the block map changes: snapshot selectable, its preserved chunks counted", async () => {
    if (!frame) throw new Error("no webview");
    await until("snapshot in the webview's selector", () =>
      frame.evaluate(() => (document.body.dataset.snapshots ?? "").split(",").includes("e2e-snap-1")),
    );
    await until(
      "preserved:e2e-snap-1 chunks > 0 in the legend",
      async () => {
        const t = await frame.locator("#legend").innerText();
        const m = /Preserved in e2e-snap-1: ([\d,]+) chunks/.exec(t);
        return m && Number(m[1].replace(/,/g, "")) > 0;
      },
      TIMEOUT,
    );
    const after = await frame.evaluate(() => document.getElementById("map").toDataURL());
    if (after === canvasBefore) throw new Error("canvas pixels did not change");
    await page
      .locator(".notifications-toasts", { hasText: "Live snapshot e2e-snap-1" })
      .waitFor({ timeout: 2000 })
      .catch(() => {});
    await shot("04-after-snapshot.png");
  });

  await check("written-since view: chunks written since the snapshot", async () => {
    await frame.selectOption("#since", "e2e-snap-1");
    await until(
      "written chunks > 0",
      async () => {
        const t = await frame.locator("#legend").innerText();
        const m = /Written since e2e-snap-1: ([\d,]+) chunks/.exec(t);
        return m && Number(m[1].replace(/,/g, "")) > 0;
      },
      TIMEOUT,
    );
    await shot("05-written-since.png");
  });

  await check("diff mode between the snapshot and a second one (palette: Compare Snapshots)", async () => {
    await rpc("snapshot.create", { volume: "vol0", name: "e2e-snap-2" });
    await treeRow("e2e-snap-2").waitFor({ timeout: TIMEOUT });
    await runCommand("livesnap: Compare Snapshots in Block Map…");
    await answer("Volume", "vol0", { pick: true });
    await answer("Compare: from snapshot", "e2e-snap-1", { pick: true });
    await answer("Compare e2e-snap-1 with", "e2e-snap-2", { pick: true });
    await until("diff view", async () => {
      const diff = await frame.isChecked("#diff");
      const t = await frame.locator("#legend").innerText();
      return diff && /Changed since e2e-snap-1/.test(t);
    });
    await shot("06-diff.png");
  });

  await check("hover shows the chunk range and which image holds it", async () => {
    const box = await frame.locator("#map").boundingBox();
    await page.mouse.move(box.x + 4, box.y + 4);
    await until("hover text", async () =>
      /chunks 0 –/.test((await frame.locator("#hover").innerText()) ?? ""),
    );
  });

  await check("keyboard: focus the map, zoom in with + and pan with PageDown", async () => {
    // On the 16 TiB volume: vol0's whole map fits at one chunk per cell, where + and PageDown
    // rightly change nothing.
    await runCommand("livesnap: Open Block Map…");
    await answer("Volume", "big0", { pick: true });
    const big = await blockMapFrame("Block map: big0");
    await until("first map of big0", () => big.evaluate(() => document.body.dataset.classes));
    const status0 = await big.locator("#status").innerText();
    // A click moves keyboard focus into the webview iframe (focus() alone leaves it in the workbench);
    // on a busy machine the first click can land before the iframe takes focus, so check and retry.
    await until("the map has keyboard focus", async () => {
      await big.click("#map", { position: { x: 3, y: 3 } });
      return big.evaluate(() => document.hasFocus() && document.activeElement?.id === "map");
    });
    stamp("map focused");
    // Each key press is sent again until the status line shows its effect.
    const pressUntilChanged = async (key, what, before) =>
      until(what, async () => {
        await page.keyboard.press(key);
        await sleep(500);
        return (await big.locator("#status").innerText()) !== before;
      });
    await pressUntilChanged("+", "status changed after zoom", status0);
    const s1 = await big.locator("#status").innerText();
    await pressUntilChanged("PageDown", "status changed after pan", s1);
    // Back to the whole-volume view for the next check.
    await page.keyboard.press("0");
  });

  await check(
    "16 TiB volume: whole-volume map and zoomed maps arrive fast (range + buckets only)",
    async () => {
      await runCommand("livesnap: Open Block Map…");
      await answer("Volume", "big0", { pick: true });
      const big = await blockMapFrame("Block map: big0");
      const started = Date.now();
      await until("first map of big0", () => big.evaluate(() => document.body.dataset.classes));
      const first = Date.now() - started;
      const status = await big.locator("#status").innerText();
      if (!/of 16(\.0)? TiB/.test(status)) throw new Error(`status: ${status}`);
      await big.click("#map", { position: { x: 3, y: 3 } });
      const v0 = await big.evaluate(() => document.body.dataset.mapVersion);
      const zoomStart = Date.now();
      for (let i = 0; i < 6; i++) await page.keyboard.press("+");
      await until(
        "zoomed map",
        async () => (await big.evaluate(() => document.body.dataset.mapVersion)) !== v0,
      );
      const drawMs = await big.evaluate(() => document.body.dataset.drawMs);
      const cells = await big.getAttribute("#map", "data-cells");
      console.log(
        `    16 TiB map: first ${first} ms, zoomed ${Date.now() - zoomStart} ms, canvas draw ${drawMs} ms for ${cells} cells; ${await big.locator("#status").innerText()}`,
      );
      await shot("07-16tib.png");
    },
  );

  writer.running = false;
  await sleep(500);

  await check("expose the snapshot as a read-only LUN from the palette; an initiator reads it", async () => {
    await runCommand("livesnap: Expose Snapshot as LUN…");
    await answer("Volume", "vol0", { pick: true });
    await answer("Expose snapshot as a read-only LUN", "e2e-snap-1", { pick: true });
    await answer("as a LUN", "");
    const toast = page.locator(".notifications-toasts", { hasText: /vol0@e2e-snap-1 is LUN \d+/ });
    await toast.waitFor({ timeout: TIMEOUT });
    const lunNo = Number(/is LUN (\d+)/.exec(await toast.innerText())[1]);
    await treeRow("vol0@e2e-snap-1").waitFor({ timeout: TIMEOUT });
    const r = spawnSync(
      "qemu-io",
      ["-r", "-f", "raw", "-c", "read 0 64k", `iscsi://127.0.0.1:${portalPort}/${iqn}/${lunNo}`],
      {
        encoding: "utf8",
        timeout: 20000,
      },
    );
    if (r.status !== 0 || !/read 65536\/65536 bytes/.test(r.stdout))
      throw new Error(`qemu-io read: ${r.stdout} ${r.stderr}`);
    await shot("08-exposed-lun.png");
  });

  await check("roll back from the palette: confirmation, progress notification, done", async () => {
    const vol0Map = await blockMapFrame("Block map: vol0");
    const versionBefore = await vol0Map.evaluate(() => document.body.dataset.mapVersion);
    await runCommand("livesnap: Roll Back Volume to Snapshot…");
    await answer("Volume", "vol0", { pick: true });
    await answer("Roll back to snapshot", "e2e-snap-1", { pick: true });
    const dialog = page.locator(".monaco-dialog-box");
    await dialog.waitFor({ timeout: TIMEOUT });
    if (!/Every write made to the volume after the snapshot is lost/.test(await dialog.innerText())) {
      throw new Error(`confirmation text: ${await dialog.innerText()}`);
    }
    await dialog.locator(".monaco-button", { hasText: "Roll Back" }).click();
    await page
      .locator(".notifications-toasts", { hasText: "vol0 rolled back to e2e-snap-1" })
      .waitFor({ timeout: 60000 });
    await until("the open block map re-read after the rollback", async () => {
      return (await vol0Map.evaluate(() => document.body.dataset.mapVersion)) !== versionBefore;
    });
    await runCommand("livesnap: Open Block Map…");
    await answer("Volume", "vol0", { pick: true });
    await shot("09-rolled-back.png");
  });

  await check("delete a snapshot from the palette (confirmed): it leaves the tree", async () => {
    await runCommand("livesnap: Delete Snapshot…");
    await answer("Volume", "vol0", { pick: true });
    await answer("Delete snapshot", "e2e-snap-2", { pick: true });
    const dialog = page.locator(".monaco-dialog-box");
    await dialog.waitFor({ timeout: TIMEOUT });
    await dialog.locator(".monaco-button", { hasText: "Delete" }).click();
    await until(
      "e2e-snap-2 gone from the tree",
      async () => !(await treePane().innerText()).includes("e2e-snap-2"),
    );
  });

  await check("context menu on a LUN: Copy iSCSI URL puts the LUN's URL on the clipboard", async () => {
    await context.grantPermissions(["clipboard-read", "clipboard-write"], { origin: new URL(url).origin });
    // The tree re-renders while the writer runs (sizes refresh), which can close an open context
    // menu before the click lands: open it again, up to three times.
    let text;
    for (let attempt = 1; attempt <= 3 && !text; attempt++) {
      await page.keyboard.press("Escape");
      const row = treeRow("vol0@e2e-snap-1");
      await row.click({ button: "right" });
      const item = page.locator(".monaco-menu .action-item", { hasText: "Copy iSCSI URL" }).first();
      await item.waitFor({ timeout: TIMEOUT });
      await page.screenshot({ path: join(outDir, `copy-url-menu-${attempt}.png`) });
      await item.click();
      text = await until(
        "clipboard text",
        async () => {
          const t = await page.evaluate(() => navigator.clipboard.readText());
          if (!t.startsWith("iscsi://")) throw new Error(`clipboard holds ${JSON.stringify(t.slice(0, 80))}`);
          return t;
        },
        attempt < 3 ? 5000 : TIMEOUT,
      ).catch((err) => {
        if (attempt === 3) throw err;
        return undefined;
      });
    }
    if (!new RegExp(`^iscsi://127\\.0\\.0\\.1:${portalPort}/${iqn.replace(/\./g, "\\.")}/\\d+$`).test(text)) {
      throw new Error(`clipboard: ${text}`);
    }
  });

  await check("withdraw the snapshot's LUN from the palette (confirmed): it leaves the tree", async () => {
    await runCommand("livesnap: Withdraw LUN…");
    await answer("Withdraw LUN", "vol0@e2e-snap-1", { pick: true });
    const dialog = page.locator(".monaco-dialog-box");
    await dialog.waitFor({ timeout: TIMEOUT });
    await dialog.locator(".monaco-button", { hasText: "Withdraw" }).click();
    await until(
      "LUN gone from the tree",
      async () => !(await treePane().innerText()).includes("vol0@e2e-snap-1"),
    );
  });

  await check("the livesnap log channel shows the connection and the snapshot", async () => {
    await runCommand("livesnap: Show Log");
    const output = page.locator(".part.panel .monaco-editor .view-lines");
    await until("log lines", async () => {
      // Monaco renders spaces as no-break spaces.
      const t = (await output.innerText().catch(() => "")).replace(/\u00a0/g, " ");
      return /e2e: connected to/.test(t) && /snapshot e2e-snap-1 of vol0 taken/.test(t);
    });
    await shot("11-log.png");
    await page.keyboard.press("Escape");
  });

  await check("group snapshot of both volumes from the palette (one admission point)", async () => {
    await runCommand("livesnap: Take Group Snapshot…");
    await answer("Group snapshot: volumes", ""); // both volumes are pre-selected
    await answer("Group snapshot name", "grp-1");
    await page
      .locator(".notifications-toasts", { hasText: /Group snapshot grp-1 taken of (big0, vol0|vol0, big0)/ })
      .waitFor({
        timeout: TIMEOUT,
      });
    await until(
      "grp-1 under both volumes",
      async () => ((await treePane().innerText()).match(/grp-1/g) ?? []).length >= 2,
    );
  });

  await check("clicking the status bar item brings back the Targets view", async () => {
    await runCommand("View: Show Explorer");
    await page
      .locator(".part.sidebar .composite.title", { hasText: /explorer/i })
      .first()
      .waitFor({ timeout: TIMEOUT });
    await page.locator(".statusbar-item", { hasText: "livesnap e2e" }).first().click();
    await page
      .locator(".part.sidebar .composite.title", { hasText: /livesnap/i })
      .first()
      .waitFor({ timeout: TIMEOUT });
  });

  await check("theme-aware: the map is redrawn in the dark theme's colours", async () => {
    const map = await blockMapFrame("Block map: vol0");
    const before = await map.evaluate(() => document.getElementById("map").toDataURL());
    await runCommand("Preferences: Toggle between Light/Dark Themes");
    await until("canvas repainted for the new theme", async () => {
      const now = await map.evaluate(() => document.getElementById("map").toDataURL());
      return now !== before;
    });
    await shot("10-dark-theme.png");
  });
} catch (err) {
  results.push({ name: "driver", ok: false, error: String(err?.stack ?? err) });
  console.error("E2E driver error:", err);
  try {
    await page.screenshot({ path: join(outDir, "failure-driver.png") });
  } catch {}
} finally {
  writer.running = false;
  await stopTarget().catch(() => {});
  await context.close().catch(() => {});
  rmSync(profile, { recursive: true, force: true });
}

console.log(
  `writer: ${writer.ok} qemu-io runs ok, ${writer.failed} failed${writer.lastError ? ` (last: ${writer.lastError})` : ""}`,
);
if (blocked.length)
  console.log(`blocked ${blocked.length} non-loopback request(s): ${[...new Set(blocked)].join(" ")}`);
if (pageErrors.length)
  console.log(`page errors (${pageErrors.length}): ${pageErrors.slice(0, 5).join(" | ")}`);
const failed = results.filter((r) => !r.ok);
for (const f of failed) console.log(`  failed: ${f.name}: ${f.error}`);
console.log(`screenshots: ${outDir}`);
console.log(`E2E: ${results.length - failed.length} passed, ${failed.length} failed`);
process.exit(failed.length === 0 ? 0 : 1);
