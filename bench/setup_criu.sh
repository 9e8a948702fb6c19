#!/usr/bin/env bash
# Build a working `criu` binary for the benchmark's CRIU peer and cache it.
#
#     bash bench/setup_criu.sh [CACHE_DIR]      # default: ${XDG_CACHE_HOME:-~/.cache}/amber-bench/criu
#
# Debian bookworm ships criu 3.17, which cannot dump on recent kernels ("vdso: Unexpected rt vDSO
# area bounds", fixed in criu 4.1). This script takes the upstream source of criu 4.1.x from
# Debian trixie's source package, installs the -dev packages it needs from the machine's own
# (bookworm) archive, runs `make criu` only (no docs, no crit, no plugins) and copies the result
# to CACHE_DIR/criu. The trixie source index lives in a private apt state directory under
# CACHE_DIR, so the machine's apt sources and lists are left as they were.
#
# criu keeps a cache of its kernel probes ("kdat", ~25 ms a run here) only on a tmpfs, by default
# /run; where /run is not a tmpfs (as on this VM) the build points it at /dev/shm instead, so that
# restores cost what they cost on an ordinary systemd machine.
#
# Needs root (apt-get). Prints the path of the binary as its last line; exits non-zero with a
# one-line reason on stderr when something fails. If CACHE_DIR/criu already works, it does nothing.
set -euo pipefail

CACHE_DIR=${1:-${XDG_CACHE_HOME:-$HOME/.cache}/amber-bench/criu}
BIN=$CACHE_DIR/criu
RUNDIR=/run
[ "$(stat -f -c %T /run 2>/dev/null)" = tmpfs ] || RUNDIR=/dev/shm
STAMP="criu from Debian ${AMBER_BENCH_CRIU_SUITE:-trixie}, make criu RUNDIR=$RUNDIR"
SUITE=${AMBER_BENCH_CRIU_SUITE:-trixie}
DEPS=(build-essential pkg-config libprotobuf-c-dev protobuf-c-compiler libprotobuf-dev protobuf-compiler
      libnl-3-dev libnet1-dev libcap-dev libbsd-dev libnftables-dev libgnutls28-dev uuid-dev
      xz-utils ca-certificates)

die() { echo "setup_criu: $*" >&2; exit 1; }

if [ -x "$BIN" ] && [ "$(cat "$BIN.stamp" 2>/dev/null)" = "$STAMP" ] && "$BIN" --version >/dev/null 2>&1; then
    echo "$BIN"
    exit 0
fi
[ "$(id -u)" = 0 ] || die "must run as root (installs build dependencies with apt-get)"
command -v apt-get >/dev/null || die "apt-get not found (Debian-based system needed)"
mkdir -p "$CACHE_DIR"

# 1. Build dependencies from the machine's own archive.
export DEBIAN_FRONTEND=noninteractive
missing=()
for p in "${DEPS[@]}"; do
    dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
    echo "installing: ${missing[*]}"
    if ! apt-get install -y --no-install-recommends "${missing[@]}"; then
        dpkg --configure -a || true   # in case an earlier run was stopped half-way
        apt-get update -q
        apt-get install -y --no-install-recommends "${missing[@]}" || die "apt-get install of build deps failed"
    fi
fi

# 2. The source of criu from Debian $SUITE, fetched by apt into a private state directory.
APT=$CACHE_DIR/apt
mkdir -p "$APT/lists/partial" "$APT/cache/archives/partial"
KEYRING=/usr/share/keyrings/debian-archive-keyring.gpg
[ -f "$KEYRING" ] || die "$KEYRING missing (package debian-archive-keyring)"
echo "deb-src [signed-by=$KEYRING] http://deb.debian.org/debian $SUITE main" > "$APT/sources.list"
APTOPTS=(-o "Dir::Etc::SourceList=$APT/sources.list" -o "Dir::Etc::SourceParts=/dev/null"
         -o "Dir::State::Lists=$APT/lists" -o "Dir::Cache=$APT/cache" -o "Acquire::Retries=2")
apt-get "${APTOPTS[@]}" update -q || die "apt-get update of the $SUITE source index failed"
SRC=$CACHE_DIR/src
rm -rf "$SRC"
mkdir -p "$SRC"
# Only the upstream tarball is needed for `make criu`; apt checks its hash against the signed
# index. The .dsc / .debian.tar may be missing on a mirror that trails the index, so a failure
# here is tolerated as long as the tarball arrived.
(cd "$SRC" && apt-get "${APTOPTS[@]}" source --download-only criu) || true
TARBALL=$(ls "$SRC"/criu_*.orig.tar.* 2>/dev/null | head -n1 || true)
[ -n "$TARBALL" ] || die "could not download the criu source package from Debian $SUITE"
echo "source: $(basename "$TARBALL")"

# 3. Build the criu binary only.
tar -xf "$TARBALL" -C "$SRC"
TREE=$(find "$SRC" -mindepth 1 -maxdepth 1 -type d -name 'criu-*' | head -n1)
[ -n "$TREE" ] || die "unexpected layout of $(basename "$TARBALL")"
make -C "$TREE" -j"$(nproc)" RUNDIR="$RUNDIR" criu > "$CACHE_DIR/build.log" 2>&1 \
    || die "make criu failed: $(grep -m1 -iE 'error|not found' "$CACHE_DIR/build.log" || tail -n1 "$CACHE_DIR/build.log")"
install -m 0755 "$TREE/criu/criu" "$BIN.tmp"
mv "$BIN.tmp" "$BIN"
echo "$STAMP" > "$BIN.stamp"
rm -rf "$SRC"
"$BIN" --version >/dev/null || die "built criu does not run"
echo "$BIN"
