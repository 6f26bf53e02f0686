#!/usr/bin/env bash
# Lab throughput next to Postfix and smtp-sink, with Postfix's smtp-source as
# the load generator for all three (issue 3's benchmark). Prints messages/s,
# sessions/s, the ratios, and the lab's resident memory with 1,000 idle
# connections. Needs smtp-source and smtp-sink (Debian package postfix);
# the Postfix row needs the Postfix lab running (make peers).
set -euo pipefail
cd "$(dirname "$0")/.."
MSGS=${MSGS:-20000}          # messages per throughput run
SESSIONS=${SESSIONS:-5000}   # sessions per sessions/s run
PF_MSGS=${PF_MSGS:-2000}     # Postfix queues and delivers every message: fewer
CONC=50
LAB_PORT=${LAB_PORT:-12600}; SINK_PORT=${SINK_PORT:-12601}; PF=${SMTPSH_POSTFIX:-127.0.0.1:10025}

for p in smtp-source smtp-sink python3; do
  command -v "$p" >/dev/null || { echo "bench-lab: $p is not installed (apt-get install postfix python3)" >&2; exit 1; }
done
make -s build
bin/smtpsh lab --listen 127.0.0.1:$LAB_PORT --tls-listen "" >/tmp/smtpsh-bench-lab.log 2>&1 &
lab=$!
smtp-sink -u nobody 127.0.0.1:$SINK_PORT 1000 &
sink=$!
trap 'kill $lab $sink 2>/dev/null || true' EXIT
for port in $LAB_PORT $SINK_PORT; do
  for _ in $(seq 50); do (exec 3<>/dev/tcp/127.0.0.1/$port) 2>/dev/null && break; sleep 0.1; done
done

# rate N ARGS...: run smtp-source and print N divided by the seconds it took.
rate() {
  local n=$1; shift
  local t0 t1
  t0=$(date +%s.%N)
  smtp-source "$@" >/dev/null
  t1=$(date +%s.%N)
  python3 -c "print(f'{$n/($t1-$t0):.0f}')"
}
msgs() { rate "$2" -s $CONC -m "$2" -l 1000 -d -f student@smtpsh.test -t "$3" "$1"; }
sess() { rate "$2" -s $CONC -m "$2" -l 1000 -f student@smtpsh.test -t "$3" "$1"; }

lab_m=$(msgs 127.0.0.1:$LAB_PORT $MSGS alice@lab.smtpsh.test)
lab_s=$(sess 127.0.0.1:$LAB_PORT $SESSIONS alice@lab.smtpsh.test)
sink_m=$(msgs 127.0.0.1:$SINK_PORT $MSGS alice@sink.test)
sink_s=$(sess 127.0.0.1:$SINK_PORT $SESSIONS alice@sink.test)
if (exec 3<>/dev/tcp/${PF%:*}/${PF##*:}) 2>/dev/null; then
  pf_m=$(msgs "$PF" $PF_MSGS bob@smtpsh-lab.local)
  pf_s=$(sess "$PF" $PF_MSGS bob@smtpsh-lab.local)
else
  pf_m=; pf_s=
  echo "bench-lab: Postfix is not listening on $PF: start it with make peers" >&2
fi

# Resident memory of the lab with 1,000 idle connections that got their banner.
rss=$(python3 - "$LAB_PORT" "$lab" <<'PY'
import socket, sys
port, pid = int(sys.argv[1]), sys.argv[2]
conns = []
for _ in range(1000):
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    conns.append(s)
for s in conns:
    if not s.recv(512).startswith(b"220"):
        sys.exit("no banner")
for line in open(f"/proc/{pid}/status"):
    if line.startswith("VmRSS:"):
        print(int(line.split()[1]) // 1024)
PY
)

ratio() { [ -n "$2" ] && python3 -c "print(f'{$1/$2:.2f}')" || echo "-"; }
printf '%-34s %12s %12s\n' "" "messages/s" "sessions/s"
printf '%-34s %12s %12s\n' "smtpsh lab (default profile)" "$lab_m" "$lab_s"
printf '%-34s %12s %12s\n' "Postfix (queue + local delivery)" "${pf_m:--}" "${pf_s:--}"
printf '%-34s %12s %12s\n' "smtp-sink (discards)" "$sink_m" "$sink_s"
printf '%-34s %12s %12s\n' "ratio lab/Postfix" "$(ratio "$lab_m" "$pf_m")" "$(ratio "$lab_s" "$pf_s")"
printf '%-34s %12s %12s\n' "ratio lab/smtp-sink" "$(ratio "$lab_m" "$sink_m")" "$(ratio "$lab_s" "$sink_s")"
echo "lab resident memory with 1000 idle connections: ${rss} MB (goal < 100 MB)"
echo "($CONC concurrent clients, 1000-octet messages, smtp-source; $MSGS/$SESSIONS lab and sink runs, $PF_MSGS Postfix)"
