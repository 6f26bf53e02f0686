#!/usr/bin/env bash
# Tests that need the Postfix lab (../shared/tools/postfix-lab.sh) in another
# mode than its normal one. Switching a mode reconfigures the whole Postfix,
# and the main `go test` of `make check` runs other packages' tests against
# it in parallel, so these run here, after it, one section at a time. Each
# section switches its mode, runs its tests and switches back on the way out,
# failure or interrupt included (an EXIT trap in the section's subshell).
# Run by `make check` after the main test run; needs root, like `make peers`.
set -euo pipefail
cd "$(dirname "$0")/.."
GO=${GO:-go}
tools=${SMTPSH_TOOLS:-../shared/tools}
lab=$tools/postfix-lab.sh
[ -f "$lab" ] || { echo "postfix-modes: $lab not found (set SMTPSH_TOOLS)" >&2; exit 1; }
[ "$(id -u)" -eq 0 ] || { echo "postfix-modes: switching Postfix's mode needs root; run make check as root (CI does)" >&2; exit 1; }
# A missing peer fails here as in the main run, never skips.
export SMTPSH_PEERS=1

# section NAME: announce a section.
section() { printf '\n=== postfix-modes: %s\n' "$1"; }

# --- open relay (internal/audit, issue 8) ----------------------------------
# smtpsh audit --checks relay and nmap's smtp-open-relay on Postfix with
# mynetworks = any: both must say open relay (TestPeerOpenRelay).
open_relay() (
  section "open relay: smtpsh audit next to nmap smtp-open-relay"
  trap 'bash "$lab" start --no-open-relay >/dev/null || echo "postfix-modes: could not switch Postfix back to normal mode" >&2' EXIT
  trap 'exit 130' INT TERM
  bash "$lab" start --open-relay >/dev/null
  SMTPSH_POSTFIX_OPEN_RELAY=1 $GO test -count=1 -run '^TestPeerOpenRelay$' -v ./internal/audit
)

# --- XCLIENT (smtpsh :xclient and send --xclient, issue 9) ------------------
# Postfix takes XCLIENT only from smtpd_authorized_xclient_hosts, which the
# lab leaves empty: authorize loopback, wait until a new smtpd advertises
# XCLIENT, run TestPeerXCLIENT (Postfix's 220, then the delivered message's
# Received header and Postfix's log naming the client XCLIENT gave), and
# restore the lab's configuration with `postfix-lab.sh start`, which
# rewrites main.cf and reloads.
xclient() (
  section "XCLIENT: smtpsh :xclient and send --xclient against Postfix"
  trap 'bash "$lab" start >/dev/null || echo "postfix-modes: could not restore the Postfix lab configuration" >&2' EXIT
  trap 'exit 130' INT TERM
  postconf -e 'smtpd_authorized_xclient_hosts = 127.0.0.0/8'
  postfix reload >/dev/null 2>&1
  for _ in $(seq 1 50); do
    if timeout 5 bash -c 'exec 3<>/dev/tcp/127.0.0.1/10025 && read -r l <&3 && printf "EHLO modes.example\r\n" >&3 &&
        while read -r l <&3; do case $l in 250[-\ ]XCLIENT*) exit 0;; "250 "*) exit 1;; esac; done' 2>/dev/null; then
      break
    fi
    sleep 0.2
  done
  SMTPSH_POSTFIX_XCLIENT=1 $GO test -count=1 -run '^TestPeerXCLIENT$' -v ./cmd/smtpsh
)

open_relay
xclient
