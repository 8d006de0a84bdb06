#!/usr/bin/env bash
# Installs FerretDB (MongoDB wire protocol over SQLite/PostgreSQL) for local runs and CI.
# `go install ...@v1.24.2` alone builds a binary that panics at start: the module lacks the
# generated build/version/version.txt. So we copy the module source, write that file, build.
set -euo pipefail
version="v1.24.2"
bin_dir="${FERRETDB_BIN_DIR:-$HOME/.local/bin}"
target="$bin_dir/ferretdb"
if [ -x "$target" ] && "$target" --version 2>/dev/null | grep -q "${version}"; then
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
echo "$version" > "$work/build/version/version.txt"
(cd "$work" && CGO_ENABLED=0 go build -o "$target" ./cmd/ferretdb)
"$target" --version | head -1
