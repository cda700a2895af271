# livesnap-target.sh - start/stop the real livesnap target for interop suites and benchmarks.
# Source it from bash (needs $ROOT = the repository root):
#   ls_target_build                 bundle apps/iscsi-target/dist/livesnap.mjs if a source is newer
#   ls_target_start DATA_DIR [serve flags...]
#                                   serve on a free loopback portal + API; sets LS_TARGET_PID,
#                                   LS_TARGET_PORT, LS_TARGET_API, LS_TARGET_DATA
#   ls_cli ARGS...                  the livesnap CLI against that daemon (its data dir)
#   ls_volume_lun VOLUME            prints "IQN LUN URL" of the volume's LUN (from `targets --json`)
#   ls_target_stop                  SIGTERM (clean stop: drain + flush), SIGKILL after 15 s;
#                                   returns 0 only if the daemon exited 0 by itself
# The toolchain (node 24) comes from tools/bootstrap.sh.
LS_BUNDLE="$ROOT/apps/iscsi-target/dist/livesnap.mjs"

ls_toolchain() {
  command -v node > /dev/null && [ "$(node -p 'process.versions.node.split(".")[0]')" -ge 24 ] && return 0
  # shellcheck source=tools/bootstrap.sh
  LIVESNAP_QUIET=1 source "$ROOT/tools/bootstrap.sh" > /dev/null
}

ls_target_build() {
  ls_toolchain || return 1
  local newer
  if [ -f "$LS_BUNDLE" ]; then
    newer=$(find "$ROOT/apps/iscsi-target/src" "$ROOT/apps/iscsi-target/build.mjs" "$ROOT"/packages/*/src \
      -newer "$LS_BUNDLE" -type f -print -quit 2> /dev/null)
    [ -z "$newer" ] && return 0
  fi
  echo "building $LS_BUNDLE" >&2
  (cd "$ROOT/apps/iscsi-target" && node build.mjs) >&2 || { echo "livesnap target: build failed" >&2; return 1; }
}

ls_target_start() {
  local dir=$1 i
  shift
  mkdir -p "$dir"
  LS_TARGET_DATA=$dir
  node "$LS_BUNDLE" serve --data-dir "$dir" --portal 127.0.0.1:0 --api 127.0.0.1:0 --json \
    --log-level "${LIVESNAP_LOG_LEVEL:-warn}" "$@" > "$dir/serve.out" 2> "$dir/serve.log" < /dev/null &
  LS_TARGET_PID=$!
  for i in $(seq 300); do
    grep -q '"ready"' "$dir/serve.out" 2> /dev/null && break
    if ! kill -0 "$LS_TARGET_PID" 2> /dev/null; then
      echo "livesnap serve exited before it was ready; its log:" >&2
      tail -n 30 "$dir/serve.log" "$dir/serve.out" >&2
      LS_TARGET_PID=
      return 1
    fi
    sleep 0.1
  done
  if ! grep -q '"ready"' "$dir/serve.out"; then
    echo "livesnap serve not ready after 30 s" >&2
    ls_target_stop
    return 1
  fi
  read -r LS_TARGET_PORT LS_TARGET_API < <(python3 -c '
import json, sys
r = json.loads(next(l for l in open(sys.argv[1]) if "\"ready\"" in l))
print(r["portals"][0]["port"], r["apiUrl"])' "$dir/serve.out")
  echo "livesnap target pid $LS_TARGET_PID: iSCSI 127.0.0.1:$LS_TARGET_PORT, API $LS_TARGET_API, data $dir" >&2
}

ls_cli() { node "$LS_BUNDLE" "$@" --data-dir "$LS_TARGET_DATA"; }

ls_volume_lun() {
  ls_cli targets --json | python3 -c '
import json, sys
for t in json.load(sys.stdin):
    for l in t["luns"]:
        if l["source"]["kind"] == "volume" and l["source"]["volume"] == sys.argv[1]:
            print(t["iqn"], l["lun"], l["url"]); sys.exit(0)
sys.exit("volume %s is not exposed as a LUN" % sys.argv[1])' "$1"
}

ls_target_stop() {
  [ -n "${LS_TARGET_PID:-}" ] || return 0
  local i
  kill -TERM "$LS_TARGET_PID" 2> /dev/null
  for i in $(seq 150); do kill -0 "$LS_TARGET_PID" 2> /dev/null || break; sleep 0.1; done
  local killed=0
  if kill -0 "$LS_TARGET_PID" 2> /dev/null; then
    echo "livesnap target pid $LS_TARGET_PID did not stop in 15 s after SIGTERM: SIGKILL" >&2
    kill -KILL "$LS_TARGET_PID" 2> /dev/null
    killed=1
  fi
  wait "$LS_TARGET_PID" 2> /dev/null
  LS_TARGET_EXIT=$?
  LS_TARGET_PID=
  # 0 only for a clean stop: exited by itself after SIGTERM, with status 0
  [ $killed = 0 ] && [ "$LS_TARGET_EXIT" = 0 ]
}
