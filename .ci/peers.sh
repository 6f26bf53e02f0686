#!/usr/bin/env bash
# Install (with apt, when root) and start the real peers that `make check` tests against:
# Postfix+Dovecot (../shared/tools/postfix-lab.sh), Dovecot's LMTP server (dovecot-lmtpd,
# started by the tests themselves on a Unix socket), tinyproxy and microsocks
# (../shared/tools/proxy-lab.sh), swaks, nmap, tshark, openssl and Python 3's smtplib.
# Fails, never skips, when a peer cannot be had.
set -euo pipefail
cd "$(dirname "$0")/.."
tools=${SMTPSH_TOOLS:-../shared/tools}
programs="postfix dovecot swaks nmap tshark tinyproxy microsocks python3 openssl"

missing=()
for p in $programs; do command -v "$p" >/dev/null 2>&1 || missing+=("$p"); done
# dovecot-lmtpd installs no command, only Dovecot's lmtp service.
lmtpd=/usr/lib/dovecot/lmtp
[ -x "$lmtpd" ] || missing+=(dovecot-lmtpd)
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "peers: missing ${missing[*]} and not root: install them with apt-get (or run as root)" >&2
    exit 1
  fi
  export DEBIAN_FRONTEND=noninteractive
  echo "postfix postfix/main_mailer_type select No configuration" | debconf-set-selections
  echo "wireshark-common wireshark-common/install-setuid boolean false" | debconf-set-selections
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends postfix dovecot-core dovecot-lmtpd swaks nmap tshark tcpdump \
    tinyproxy microsocks python3 openssl libnet-ssleay-perl libio-socket-ssl-perl \
    libauthen-sasl-perl libio-socket-inet6-perl >/dev/null
fi
for p in $programs; do
  command -v "$p" >/dev/null 2>&1 || { echo "peers: $p is still missing after apt-get" >&2; exit 1; }
done
[ -x "$lmtpd" ] || { echo "peers: $lmtpd (dovecot-lmtpd) is still missing after apt-get" >&2; exit 1; }

if [ ! -d "$tools" ]; then
  echo "peers: $tools not found: it holds postfix-lab.sh and proxy-lab.sh (set SMTPSH_TOOLS)" >&2
  exit 1
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "peers: starting Postfix needs root; run make check as root (CI does)" >&2
  exit 1
fi
bash "$tools/postfix-lab.sh" start
bash "$tools/proxy-lab.sh" start
