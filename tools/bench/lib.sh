# Helpers for tools/bench scripts (sourced; needs bash).

# free_port: a free TCP port on 127.0.0.1 below 32768 (tgtd's control port -C must be < 32768,
# and tgt-up.sh uses the iSCSI port as the control port).
free_port() {
  python3 -c '
import random, socket
for _ in range(200):
    p = random.randint(20000, 32000)
    s = socket.socket()
    try:
        s.bind(("127.0.0.1", p)); print(p); break
    except OSError:
        pass
    finally:
        s.close()'
}

# build_iscsi_bench SHARED_BENCH_DIR: compile iscsi-bench.c into our cache (the shared folder
# stays read-only), keyed by the source's hash; prints the binary's path.
build_iscsi_bench() {
  local src=$1/iscsi-bench.c cache=${LIVESNAP_BENCH_CACHE:-$HOME/.cache/livesnap-bench} sum bin
  sum=$(sha256sum "$src" | cut -c1-12)
  bin=$cache/iscsi-bench-$sum
  if [ ! -x "$bin" ]; then
    command -v gcc > /dev/null && [ -f /usr/include/iscsi/iscsi.h ] ||
      { echo "iscsi-bench needs gcc and libiscsi-dev (apt-get install gcc libiscsi-dev)" >&2; return 1; }
    mkdir -p "$cache"
    gcc -O2 -g -Wall -std=gnu11 -o "$bin.tmp" "$src" -liscsi -lm >&2 || return 1
    mv "$bin.tmp" "$bin"
    echo "built $bin" >&2
  fi
  echo "$bin"
}

# negotiated BENCH NAME URL: log in once through login-params.py and print what was negotiated.
negotiated() {
  local bench=$1 name=$2 url=$3 hostport host port rest pport line
  rest=${url#iscsi://}
  hostport=${rest%%/*}
  host=${hostport%:*} port=${hostport##*:}
  exec {fd}< <(python3 "$(dirname "${BASH_SOURCE[0]}")/login-params.py" "$host" "$port")
  read -r pport <&"$fd"
  "$bench" --probe --url "iscsi://127.0.0.1:$pport/${rest#*/}" > /dev/null 2>&1 || true
  read -r line <&"$fd"
  exec {fd}<&-
  echo "negotiated with $name: ${line:-nothing (login failed?)}"
}
