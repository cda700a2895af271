#!/usr/bin/env bash
# engine.sh - the engine package's own benchmark (packages/engine, script "bench"), if it has one.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT"
if ! python3 -c 'import json,sys; sys.exit(0 if "bench" in json.load(open(sys.argv[1])).get("scripts", {}) else 1)' \
    packages/engine/package.json; then
  echo "engine.sh: packages/engine has no \"bench\" script yet" >&2
  exit 1
fi
LIVESNAP_QUIET=1 source "$ROOT/tools/bootstrap.sh"
exec pnpm --filter @livesnap/engine run bench "$@"
