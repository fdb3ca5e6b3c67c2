#!/usr/bin/env bash
# Called by the Maven build (generate-resources): builds the guest agent into $1 and installs
# it as the class-path resource directory $2 (io/boxlite/guest/boxlite-agent in the jar).
set -euo pipefail
out="$1" dest="$2"
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
command -v make >/dev/null \
    || { echo "boxlite-agent: 'make' is not installed: run bin/setup (or apt-get install make)" >&2; exit 1; }
command -v musl-gcc >/dev/null || command -v gcc >/dev/null \
    || { echo "boxlite-agent: no C compiler: run bin/setup (or apt-get install musl-tools)" >&2; exit 1; }
make -s -C "$here" OUT="$out" all
make -s -C "$here" OUT="$out" DEST="$dest" install
