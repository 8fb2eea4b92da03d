#!/usr/bin/env bash
# Regenerate the checked-in protobuf code of masking's message bodies; CI fails on any diff.
set -euo pipefail
cd "$(dirname "$0")"
python -m grpc_tools.protoc -I. --python_out=. --pyi_out=. masking.proto
