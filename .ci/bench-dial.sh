#!/usr/bin/env bash
# Connection set-up against the lab, process start to exit, for each path
# (TCP, STARTTLS, implicit TLS; direct, via tinyproxy, via microsocks), next
# to openssl s_client and swaks where they can take the same path (issue 5's
# benchmark). Prints medians and ratios. Needs openssl, swaks and the proxies
# (make peers).
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${RUNS:-20}
P=${LAB_PORT:-12610}; Q=${LAB_TLS_PORT:-12611}
HTTP=${HTTP_PROXY_ADDR:-127.0.0.1:18888}; SOCKS=${SOCKS_PROXY_ADDR:-127.0.0.1:11080}
for p in openssl swaks python3; do
  command -v "$p" >/dev/null || { echo "bench-dial: $p is not installed (make peers)" >&2; exit 1; }
done
make -s build
bin/smtpsh lab --listen 127.0.0.1:$P --tls-listen 127.0.0.1:$Q >/tmp/smtpsh-bench-dial.log 2>&1 &
lab=$!
trap 'kill $lab 2>/dev/null || true' EXIT
for _ in $(seq 50); do (exec 3<>/dev/tcp/127.0.0.1/$P) 2>/dev/null && break; sleep 0.1; done

median_ms() {
  local times=() t0 t1
  for _ in $(seq "$RUNS"); do
    t0=$(date +%s%N)
    if ! "$@" </dev/null >/dev/null 2>&1; then echo failed; return 0; fi
    t1=$(date +%s%N)
    times+=($(( (t1 - t0) / 1000 )))
  done
  printf '%s\n' "${times[@]}" | sort -n | awk '{a[NR]=$1} END {printf "%.1f\n", a[int((NR+1)/2)]/1000}'
}
ossl() { echo QUIT | openssl s_client -quiet "$@"; }
have() { (exec 3<>/dev/tcp/${1%:*}/${1##*:}) 2>/dev/null; }

S="bin/smtpsh --no-explain --insecure"
row() { # label, smtpsh ms, openssl ms, swaks ms
  local r1=- r2=-
  case $3 in -|failed) ;; *) r1=$(python3 -c "print(f'{$3/$2:.2f}')") ;; esac
  case $4 in -|failed) ;; *) r2=$(python3 -c "print(f'{$4/$2:.2f}')") ;; esac
  printf '%-28s %9s %9s %9s %12s %12s\n' "$1" "$2" "$3" "$4" "$r1" "$r2"
}
printf '%-28s %9s %9s %9s %12s %12s\n' "path (median ms)" smtpsh openssl swaks "openssl/ours" "swaks/ours"
row "direct TCP" "$(median_ms $S 127.0.0.1:$P -c QUIT)" - \
  "$(median_ms swaks --server 127.0.0.1 --port $P --quit-after FIRST-HELO)"
row "direct STARTTLS" "$(median_ms $S --starttls 127.0.0.1:$P -c 'EHLO bench.test' -c QUIT)" \
  "$(median_ms ossl -starttls smtp -connect 127.0.0.1:$P)" \
  "$(median_ms swaks --server 127.0.0.1 --port $P --tls --quit-after TLS)"
row "direct implicit TLS" "$(median_ms $S --tls 127.0.0.1:$Q -c QUIT)" \
  "$(median_ms ossl -connect 127.0.0.1:$Q)" \
  "$(median_ms swaks --server 127.0.0.1 --port $Q --tlsc --quit-after CONNECT)"
if have "$HTTP"; then
  row "HTTP CONNECT TCP" "$(median_ms $S --proxy http://$HTTP 127.0.0.1:$P -c QUIT)" - -
  row "HTTP CONNECT STARTTLS" "$(median_ms $S --proxy http://$HTTP --starttls 127.0.0.1:$P -c 'EHLO bench.test' -c QUIT)" \
    "$(median_ms ossl -proxy $HTTP -starttls smtp -connect 127.0.0.1:$P)" -
  row "HTTP CONNECT implicit TLS" "$(median_ms $S --proxy http://$HTTP --tls 127.0.0.1:$Q -c QUIT)" \
    "$(median_ms ossl -proxy $HTTP -connect 127.0.0.1:$Q)" -
else
  echo "bench-dial: no HTTP proxy on $HTTP (make peers): proxy rows left out" >&2
fi
if have "$SOCKS"; then
  row "SOCKS5 TCP" "$(median_ms $S --proxy socks5://$SOCKS 127.0.0.1:$P -c QUIT)" - -
  row "SOCKS5 STARTTLS" "$(median_ms $S --proxy socks5://$SOCKS --starttls 127.0.0.1:$P -c 'EHLO bench.test' -c QUIT)" - -
  row "SOCKS5 implicit TLS" "$(median_ms $S --proxy socks5://$SOCKS --tls 127.0.0.1:$Q -c QUIT)" - -
fi
echo "($RUNS runs each, process start to exit; '-': the tool cannot take that path; 'failed': it tried and failed"
echo " (openssl s_client -proxy with -starttls loses the banner that tinyproxy sends with its 200);"
echo " smtpsh's start includes ~22 ms of glamour/chroma init)"
