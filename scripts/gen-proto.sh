#!/usr/bin/env bash
# Regenerate the Python protobuf modules in src/pybaton/pb from proto/.
#
# Usage: bash scripts/gen-proto.sh PYTHON
#   PYTHON is an interpreter with grpcio-tools installed (make proto passes the venv's).
#
# The generated code is committed, so users never need protoc. Running this twice
# gives the same tree: every generated file is deleted before protoc runs.
set -euo pipefail

PYTHON="${1:?usage: gen-proto.sh PYTHON}"
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PROTO_DIR="$ROOT/proto"
OUT_DIR="$ROOT/src/pybaton/pb"
# Top-level proto packages; their generated imports get the pybaton.pb. prefix.
PACKAGES=(baton c1)

cd "$ROOT"

# Remove the previous output (the hand-written modules in pb/ itself stay).
for pkg in "${PACKAGES[@]}"; do
    rm -rf "${OUT_DIR:?}/$pkg"
done

mapfile -t PROTOS < <(cd "$PROTO_DIR" && find . -name '*.proto' | sed 's|^\./||' | LC_ALL=C sort)
if [ "${#PROTOS[@]}" -eq 0 ]; then
    echo "gen-proto: no .proto files under $PROTO_DIR" >&2
    exit 1
fi

"$PYTHON" -m grpc_tools.protoc \
    -I "$PROTO_DIR" \
    --python_out="$OUT_DIR" \
    --pyi_out="$OUT_DIR" \
    "${PROTOS[@]}"

# protoc writes imports relative to the proto root ("from c1.connector.v2 import
# resource_pb2"); make them absolute inside the pybaton.pb package.
pkg_regex="$(IFS='|'; echo "${PACKAGES[*]}")"
# The module name passed to the builder (used for the classes' __module__) moves too.
find "$OUT_DIR" \( -name '*_pb2.py' -o -name '*_pb2.pyi' \) -print0 |
    xargs -0 sed -i -E \
        -e "s/^from (($pkg_regex)(\.[A-Za-z0-9_]+)*) import /from pybaton.pb.\1 import /" \
        -e "s/(BuildTopDescriptorsAndMessages\(DESCRIPTOR, )'(($pkg_regex)\.[A-Za-z0-9_.]+)'/\1'pybaton.pb.\2'/"

# Every generated directory becomes a regular package.
for pkg in "${PACKAGES[@]}"; do
    find "$OUT_DIR/$pkg" -type d -print0 | while IFS= read -r -d '' dir; do
        : > "$dir/__init__.py"
    done
done

echo "gen-proto: generated ${#PROTOS[@]} files into ${OUT_DIR#"$ROOT"/}"
