#!/usr/bin/env bash
# smtpsh send next to swaks for the same transaction against Postfix,
# process start to exit (issue 9's benchmark): --quit-after rcpt on both.
# Prints the medians and the ratio. Needs the Postfix lab (make peers) and
# swaks.
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${RUNS:-30}
PF=${SMTPSH_POSTFIX:-127.0.0.1:10025}
command -v swaks >/dev/null || { echo "bench-send: swaks is not installed (make peers)" >&2; exit 1; }
(exec 3<>/dev/tcp/${PF%:*}/${PF##*:}) 2>/dev/null || { echo "bench-send: Postfix is not listening on $PF (make peers)" >&2; exit 1; }
make -s build

# median_ms CMD...: run CMD RUNS times, print the median wall time in ms.
median_ms() {
  local times=() t0 t1
  for _ in $(seq "$RUNS"); do
    t0=$(date +%s%N)
    "$@" >/dev/null 2>&1 || { echo "bench-send: failed: $*" >&2; exit 1; }
    t1=$(date +%s%N)
    times+=($(( (t1 - t0) / 1000 )))
  done
  printf '%s\n' "${times[@]}" | sort -n | awk '{a[NR]=$1} END {printf "%.1f\n", a[int((NR+1)/2)]/1000}'
}

smtpsh_ms=$(median_ms bin/smtpsh send --server "$PF" --ehlo bench.smtpsh.test \
  --from student@smtpsh.test --to bob@smtpsh-lab.local --quit-after rcpt)
swaks_ms=$(median_ms swaks --server "${PF%:*}" --port "${PF##*:}" --ehlo bench.smtpsh.test \
  --from student@smtpsh.test --to bob@smtpsh-lab.local --quit-after RCPT)
printf '%-48s %8s ms\n' "smtpsh send --quit-after rcpt (median)" "$smtpsh_ms"
printf '%-48s %8s ms\n' "swaks --quit-after RCPT (median)" "$swaks_ms"
python3 -c "print(f'ratio swaks/smtpsh: {$swaks_ms/$smtpsh_ms:.1f}x (goal >= 4x)')"
echo "($RUNS runs each against Postfix at $PF)"
