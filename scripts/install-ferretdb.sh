#!/usr/bin/env bash
# Installs FerretDB (MongoDB wire protocol over SQLite/PostgreSQL) for local runs and CI.
# `go install ...@v1.24.2` alone builds a binary that panics at start: the module lacks the
# generated build/version/version.txt. So we copy the module source, write that file, build.
# One patch (stamped next to the binary, so an unpatched build is rebuilt): the SQLite back end
# queried `_id` as `_ferretdb_sjson->'$._id'` while its unique index is on
# `_ferretdb_sjson->"_id"`; SQLite matches index expressions as written, so every `_id` read and
# update scanned the whole table (EXPLAIN: SCAN), its cost growing with the collection.
set -euo pipefail
version="v1.24.2"
patch_id="sqlite-id-index-1"
bin_dir="${FERRETDB_BIN_DIR:-$HOME/.local/bin}"
target="$bin_dir/ferretdb"
stamp="$target.patch"
if [ -x "$target" ] && "$target" --version 2>/dev/null | grep -q "${version}" &&
  [ "$(cat "$stamp" 2>/dev/null)" = "$patch_id" ]; then
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
metadata="$work/internal/backends/sqlite/metadata/metadata.go"
sed -i "s|IDColumn = DefaultColumn + \"->'\\$._id'\"|IDColumn = DefaultColumn + \`->\"_id\"\`|" "$metadata"
grep -q 'IDColumn = DefaultColumn + `->"_id"`' "$metadata" ||
  { echo "install-ferretdb: the _id index patch no longer applies" >&2; exit 1; }
# Built beside the target and renamed over it: a running FerretDB keeps its old binary.
(cd "$work" && CGO_ENABLED=0 go build -o "$target.new" ./cmd/ferretdb)
mv -f "$target.new" "$target"
echo "$patch_id" > "$stamp"
"$target" --version | head -1
