#!/usr/bin/env bash
# smtpsh capture next to tshark and tcpdump on one generated capture (issue
# 6's benchmark): MB/s (10^6 bytes per second of file), peak RSS and the
# ratios smtpsh/tshark, with tcpdump's read-and-rewrite as the floor.
# The capture (BENCH_CAPTURE_MB, default 300, of sessions with thousands of
# conversations) is made once by internal/pcapgen/cmd/pcapgen and cached in
# the temporary directory, never in the repository. smtpsh and tcpdump are
# timed best of RUNS (default 3); tshark, at 12-15 MB/s, once each.
# Needs tshark and tcpdump (make peers).
set -euo pipefail
cd "$(dirname "$0")/.."
MB=${BENCH_CAPTURE_MB:-300}
RUNS=${RUNS:-3}
TMP=${TMPDIR:-/tmp}
F=$TMP/smtpsh-bench-capture-${MB}MB.pcap
for p in tshark tcpdump python3; do
  command -v "$p" >/dev/null || { echo "bench-capture: $p is not installed (make peers)" >&2; exit 1; }
done
[ -x /usr/bin/time ] || { echo "bench-capture: /usr/bin/time is not installed (apt-get install time)" >&2; exit 1; }
make -s build
if [ ! -s "$F" ]; then
  go run ./internal/pcapgen/cmd/pcapgen -mb "$MB" -o "$F"
fi
SIZE=$(stat -c %s "$F")
cat "$F" >/dev/null # read from the page cache, as every run after the first
LOG=$TMP/smtpsh-bench-capture.log
: >"$LOG"

# measure LABEL RUNS CMD...: best wall time of RUNS runs, and its peak RSS
# (KB) and CPU use, as "seconds kb cpu%".
measure() {
  local label=$1 runs=$2 best="" out
  shift 2
  for _ in $(seq "$runs"); do
    if ! /usr/bin/time -f '%e %M %P' -o "$TMP/smtpsh-bench-capture.time" "$@" >/dev/null 2>>"$LOG"; then
      echo "bench-capture: $label failed (see $LOG)" >&2
      exit 1
    fi
    out=$(cat "$TMP/smtpsh-bench-capture.time")
    if [ -z "$best" ] || python3 -c "import sys; sys.exit(0 if ${out%% *} < ${best%% *} else 1)"; then
      best=$out
    fi
  done
  echo "$best"
}

S="bin/smtpsh capture"
summary=$(measure "smtpsh --summary" "$RUNS" $S --summary "$F")
json=$(measure "smtpsh --json" "$RUNS" $S --json "$F")
floor=$(measure "tcpdump" "$RUNS" tcpdump -r "$F" -w /dev/null)
tfields=$(measure "tshark fields" 1 tshark -r "$F" -Y smtp -T fields -e smtp.req.command -e smtp.response.code)
tcreds=$(measure "tshark credentials" 1 tshark -r "$F" -q -z credentials)
conv=$($S --summary "$F" 2>&1 >/dev/null | sed -n 's/.* \([0-9]*\) SMTP conversations.*/\1/p')

python3 - "$SIZE" "$conv" "$summary" "$json" "$floor" "$tfields" "$tcreds" <<'PY'
import sys
size, conv = int(sys.argv[1]), sys.argv[2]
rows = [("smtpsh capture --summary", sys.argv[3]), ("smtpsh capture --json", sys.argv[4]),
        ("tcpdump -r F -w /dev/null (floor)", sys.argv[5]),
        ("tshark -Y smtp -T fields", sys.argv[6]), ("tshark -q -z credentials", sys.argv[7])]
m = {}
print(f"capture: {size/1e6:.0f} MB, {conv} SMTP conversations")
print(f"{'':36} {'seconds':>8} {'MB/s':>9} {'peak RSS MB':>12} {'CPU':>6}")
for name, v in rows:
    secs, kb, cpu = v.split()
    secs = max(float(secs), 0.01)
    m[name] = size / 1e6 / secs
    print(f"{name:36} {secs:8.2f} {m[name]:9.1f} {int(kb)/1024:12.0f} {cpu:>6}")
fields, creds, floor = m["tshark -Y smtp -T fields"], m["tshark -q -z credentials"], m["tcpdump -r F -w /dev/null (floor)"]
for name in ("smtpsh capture --summary", "smtpsh capture --json"):
    print(f"{name}: {m[name]/fields:.0f}x tshark fields, {m[name]/creds:.0f}x tshark credentials, {floor/m[name]:.1f}x below the floor")
PY
