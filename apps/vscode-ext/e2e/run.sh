#!/usr/bin/env bash
# End-to-end test of the livesnap VS Code extension in a real VS Code: code-server 4.139.1
# (VS Code 1.139.1 server + web workbench, from npm) on Node 24, driven by playwright-core in
# Debian's headless Chromium, against a REAL livesnap target started from
# apps/iscsi-target/dist/livesnap.mjs on free loopback ports.
#
#   bash e2e/run.sh                 # from apps/vscode-ext (the `test:interop` script)
#   E2E_SETUP_ONLY=1 bash e2e/run.sh   # only install the tools (warm the cache)
#
# Installs are cached under $LIVESNAP_VSCODE_E2E_CACHE (default ~/.cache/livesnap-vscode-e2e).
# Screenshots go to apps/vscode-ext/test-artifacts/.
# Exit: 0 = all passed, 1 = an e2e check failed, 2 = setup failed (missing tools are failures,
# never a silent skip). The last line printed is `E2E: N passed, N failed`.
set -euo pipefail

EXT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
REPO="$(cd "$EXT/../.." && pwd)"
CODE_SERVER_VERSION="4.139.1" # = VS Code 1.139.1; its postinstall insists on Node 24
CACHE="${LIVESNAP_VSCODE_E2E_CACHE:-$HOME/.cache/livesnap-vscode-e2e}"
OUT_DIR="${OUT_DIR:-$EXT/test-artifacts}"
KEEP_RUN_DIR="${KEEP_RUN_DIR:-0}"

T0=$(date +%s)
# The closing line, and the same counts in test-results/e2e.json for tools/dev test's total.
summary() {
  mkdir -p "$EXT/test-results"
  printf '{"numPassedTests":%d,"numFailedTests":%d}\n' "$1" "$2" >"$EXT/test-results/e2e.json"
  echo "E2E: $1 passed, $2 failed"
}
die() {
  echo "E2E SETUP FAILED: $*" >&2
  summary 0 1
  exit 2
}
step() { echo "=== [$(($(date +%s) - T0))s] $*"; }

# ---------------------------------------------------------------- Node 24 + its headers
command -v node >/dev/null || die "node not on PATH (use the repo toolchain: Node 24)"
node -v | grep -q '^v24\.' || die "code-server $CODE_SERVER_VERSION needs Node 24, found $(node -v)"
NODE_PREFIX="$(dirname "$(dirname "$(readlink -f "$(command -v node)")")")"
# node-gyp must build code-server's native modules against local Node 24 headers (no nodejs.org).
[ -f "$NODE_PREFIX/include/node/node.h" ] || die "no Node headers at $NODE_PREFIX/include/node"
export npm_config_nodedir="$NODE_PREFIX"
command -v npm >/dev/null || die "npm not found"

# ---------------------------------------------------------------- Debian packages
step "apt packages"
need=()
command -v chromium >/dev/null || need+=(chromium)
command -v rg >/dev/null || need+=(ripgrep)
dpkg -s libkrb5-dev >/dev/null 2>&1 || need+=(libkrb5-dev) # gssapi headers for 'kerberos'
dpkg -s fonts-dejavu-core >/dev/null 2>&1 || need+=(fonts-dejavu-core)
for t in g++ make python3 curl; do command -v "$t" >/dev/null || need+=("$t"); done
if [ ${#need[@]} -gt 0 ]; then
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  echo "installing: ${need[*]}"
  $SUDO apt-get update -qq || die "apt-get update failed"
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need[@]}" >/dev/null ||
    die "apt-get install ${need[*]} failed"
fi

# ---------------------------------------------------------------- code-server from npm (cached)
CS_HOME="$CACHE/code-server-$CODE_SERVER_VERSION-node$(node -v)"
CS_BIN="$CS_HOME/node_modules/.bin/code-server"
step "code-server $CODE_SERVER_VERSION"
if [ ! -f "$CS_HOME/.complete" ]; then
  rm -rf "$CS_HOME"
  mkdir -p "$CS_HOME/tmp"
  printf '{ "name": "livesnap-vscode-e2e-code-server", "private": true, "dependencies": { "code-server": "%s" } }\n' \
    "$CODE_SERVER_VERSION" >"$CS_HOME/package.json"
  (
    cd "$CS_HOME"
    # Under `pnpm run`, pnpm's npm_* variables (user agent "pnpm/…") make code-server's postinstall
    # refuse to guess the package manager: this install is npm's, with npm's own environment.
    for v in $(compgen -e | grep '^npm_'); do
      [ "$v" = npm_config_nodedir ] || unset "$v"
    done
    export TMPDIR="$CS_HOME/tmp"
    export npm_config_unsafe_perm=true                   # postinstall refuses root without it
    export npm_config_yes=true                           # node-pty's postinstall runs npx node-gyp
    export npm_config_build_from_source=true             # never try GitHub prebuilds
    export npm_config_dangerously_allow_all_scripts=true # npm 11 allowScripts: run them
    npm install --no-audit --no-fund --loglevel=error 2>&1 | grep -v 'Unknown .* config' || true
  )
  vs="$CS_HOME/node_modules/code-server/lib/vscode"
  for f in node_modules/node-pty/build/Release/pty.node node_modules/@vscode/spdlog/build/Release/spdlog.node \
    extensions/node_modules/typescript/package.json; do
    [ -e "$vs/$f" ] || die "code-server install incomplete: missing lib/vscode/$f"
  done
  rm -rf "$CS_HOME/tmp"
  touch "$CS_HOME/.complete"
else
  echo "cached in $CS_HOME"
fi
[ -x "$CS_BIN" ] || die "no code-server binary at $CS_BIN"

# playwright-core and vsce are the extension's own devDependencies (pnpm install).
PW_DIR="$EXT/node_modules/playwright-core"
VSCE="$EXT/node_modules/.bin/vsce"
[ -d "$PW_DIR" ] && [ -x "$VSCE" ] || die "playwright-core/vsce missing: run pnpm install"
if [ "${E2E_SETUP_ONLY:-0}" = 1 ]; then
  step "setup only: done"
  exit 0
fi

# ---------------------------------------------------------------- the real target + the .vsix
TARGET_JS="$REPO/apps/iscsi-target/dist/livesnap.mjs"
# Rebuild when missing or older than any source it bundles (turbo does not order it before us).
if [ ! -f "$TARGET_JS" ] || [ -n "$(find "$REPO/apps/iscsi-target/src" "$REPO/packages" -name '*.ts' -path '*/src/*' -newer "$TARGET_JS" -print -quit)" ]; then
  step "building the target (apps/iscsi-target)"
  (cd "$REPO/apps/iscsi-target" && node build.mjs) || die "building apps/iscsi-target failed"
fi
[ -f "$TARGET_JS" ] || die "no $TARGET_JS"
step "build + package the extension"
(cd "$EXT" && node build.mjs) || die "extension build failed"
(cd "$EXT" && "$VSCE" package --no-dependencies -o livesnap-vscode.vsix >/dev/null) || die "vsce package failed"
VSIX="$EXT/livesnap-vscode.vsix"

RUN="$(mktemp -d "${TMPDIR:-/tmp}/livesnap-vscode-e2e.XXXXXX")"
CS_PID=""
cleanup() {
  [ -n "$CS_PID" ] && kill -- "-$CS_PID" 2>/dev/null || true
  [ "$KEEP_RUN_DIR" = 1 ] || rm -rf "$RUN"
}
trap cleanup EXIT

step "fresh profile + install $VSIX"
mkdir -p "$RUN/user-data/User" "$RUN/extensions" "$RUN/workspace" "$RUN/xdg" "$RUN/tmp"
cat >"$RUN/user-data/User/settings.json" <<'EOF'
{
  "workbench.startupEditor": "none",
  "security.workspace.trust.enabled": false,
  "telemetry.telemetryLevel": "off",
  "extensions.autoCheckUpdates": false,
  "extensions.autoUpdate": false,
  "extensions.ignoreRecommendations": true,
  "update.mode": "none",
  "workbench.enableExperiments": false,
  "chat.disableAIFeatures": true,
  "livesnap.connections": [],
  "workbench.secondarySideBar.defaultVisibility": "hidden",
  "workbench.sideBar.location": "left",
  "git.enabled": false
}
EOF
echo "livesnap e2e workspace" >"$RUN/workspace/README.txt"
# Keep code-server's state out of $HOME; '{}' = no extension gallery (no network).
export XDG_CONFIG_HOME="$RUN/xdg/config" XDG_DATA_HOME="$RUN/xdg/data" XDG_CACHE_HOME="$RUN/xdg/cache"
export EXTENSIONS_GALLERY='{}'
export TMPDIR="$RUN/tmp"
CS_ARGS=(--config /dev/null --user-data-dir "$RUN/user-data" --extensions-dir "$RUN/extensions")
"$CS_BIN" "${CS_ARGS[@]}" --install-extension "$VSIX" >/dev/null || die "--install-extension failed"
"$CS_BIN" "${CS_ARGS[@]}" --list-extensions --show-versions | grep -q '^livesnap.livesnap-vscode@' ||
  die "extension not listed after install"

PORT="$(node -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})')"
step "code-server on 127.0.0.1:$PORT"
setsid "$CS_BIN" "${CS_ARGS[@]}" --auth none --bind-addr "127.0.0.1:$PORT" \
  --disable-telemetry --disable-update-check --disable-workspace-trust \
  --disable-getting-started-override "$RUN/workspace" >"$RUN/code-server.log" 2>&1 &
CS_PID=$!
for _ in $(seq 1 300); do
  curl -sf -o /dev/null "http://127.0.0.1:$PORT/healthz" && break
  kill -0 "$CS_PID" 2>/dev/null || {
    cat "$RUN/code-server.log"
    die "code-server exited"
  }
  sleep 0.2
done
curl -sf -o /dev/null "http://127.0.0.1:$PORT/healthz" || die "code-server did not come up"

step "drive (playwright-core + chromium)"
mkdir -p "$OUT_DIR"
rm -f "$OUT_DIR"/*.png
rc=0
# drive.mjs starts and stops the livesnap target itself (it needs its token and ports).
NODE_PATH="$EXT/node_modules" VSCODE_URL="http://127.0.0.1:$PORT/?folder=$RUN/workspace" \
  OUT_DIR="$OUT_DIR" RUN_DIR="$RUN" TARGET_JS="$TARGET_JS" \
  node "$EXT/e2e/drive.mjs" | tee "$RUN/drive.log" || rc=$?
# drive.mjs prints the counts last; record them (a crash before that line counts as one failure).
counts="$(sed -n 's/^E2E: \([0-9]*\) passed, \([0-9]*\) failed$/\1 \2/p' "$RUN/drive.log" | tail -n 1)"
if [ -n "$counts" ]; then
  mkdir -p "$EXT/test-results"
  printf '{"numPassedTests":%d,"numFailedTests":%d}\n' ${counts} >"$EXT/test-results/e2e.json"
else
  summary 0 1
  [ "$rc" != 0 ] || rc=1
fi
if [ "$rc" -ne 0 ]; then
  echo "--- code-server log (tail)"
  tail -n 40 "$RUN/code-server.log" || true
  for f in "$RUN"/target*.log; do
    [ -f "$f" ] && echo "--- $f (tail)" && tail -n 40 "$f"
  done
fi
step "done, screenshots in $OUT_DIR"
exit "$rc"
