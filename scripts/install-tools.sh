#!/usr/bin/env bash
# Installs the Debian packages the tests use, when they are missing.
# Usage: scripts/install-tools.sh ffmpeg [mpv vlc ...]
# Needs root or sudo; without either it says what is missing and carries on
# (the tests that need a tool then skip with a message).
set -uo pipefail
missing=()
for pkg in "$@"; do
	bin=$pkg
	[ "$pkg" = vlc ] && bin=cvlc
	[ "$pkg" = nftables ] && bin=nft
	command -v "$bin" >/dev/null 2>&1 || missing+=("$pkg")
done
[ ${#missing[@]} -eq 0 ] && exit 0

sudo=""
if [ "$(id -u)" -ne 0 ]; then
	if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
		sudo="sudo -n"
	else
		echo "install-tools: missing ${missing[*]} and not root: tests that need them will skip" >&2
		exit 0
	fi
fi
echo "install-tools: installing ${missing[*]} from Debian packages"
export DEBIAN_FRONTEND=noninteractive
if ! { $sudo apt-get update -qq && $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"; } >/tmp/p2ptvd-apt.log 2>&1; then
	echo "install-tools: apt-get failed (see /tmp/p2ptvd-apt.log): tests that need ${missing[*]} will skip" >&2
fi
exit 0
