#!/usr/bin/env bash
# Installs FerretDB (MongoDB wire protocol over SQLite/PostgreSQL) for local runs and CI.
# `go install ...@v1.24.2` alone builds a binary that panics at start: the module lacks the
# generated build/version/version.txt. So we copy the module source, write that file, apply
# the patches in scripts/ferretdb/ (each says why; docs/ferretdb.md), build. The patch level is
# stamped next to the binary (an older build is rebuilt) and in the version FerretDB reports
# (`buildInfo.ferretdbVersion` = v1.24.2-afc.<level>).
set -euo pipefail
version="v1.24.2"
patch_level="3"
root="$(cd "$(dirname "$0")/.." && pwd)"
bin_dir="${FERRETDB_BIN_DIR:-$HOME/.local/bin}"
target="$bin_dir/ferretdb"
stamp="$target.patch"
if [ -x "$target" ] && "$target" --version 2>/dev/null | grep -q "${version}" &&
  [ "$(cat "$stamp" 2>/dev/null)" = "afc.$patch_level" ]; then
  exit 0
fi
command -v go >/dev/null || { echo "install-ferretdb: Go toolchain not found (needed to build FerretDB)" >&2; exit 1; }
mkdir -p "$bin_dir"
GOFLAGS=-mod=mod go mod download -x "github.com/FerretDB/FerretDB@${version}" >/dev/null 2>&1 || \
  GOFLAGS=-mod=mod go mod download "github.com/FerretDB/FerretDB@${version}"
src="$(go env GOMODCACHE)/github.com/!ferret!d!b/!ferret!d!b@${version}"
work="$(mktemp -d)"
trap 'chmod -R u+w "$work"; rm -rf "$work"' EXIT
cp -r "$src/." "$work/"
chmod -R u+w "$work"
echo "${version}-afc.${patch_level}" > "$work/build/version/version.txt"
for p in "$root"/scripts/ferretdb/*.patch; do
  (cd "$work" && git apply -p1 "$p") ||
    { echo "install-ferretdb: $(basename "$p") no longer applies" >&2; exit 1; }
done
# Built beside the target and renamed over it: a running FerretDB keeps its old binary.
(cd "$work" && CGO_ENABLED=0 go build -o "$target.new" ./cmd/ferretdb)
mv -f "$target.new" "$target"
echo "afc.$patch_level" > "$stamp"
# Not `| head -1`: under pipefail, SIGPIPE on the rest of the output failed the install.
"$target" --version | sed -n 1p
