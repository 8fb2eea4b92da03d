#!/usr/bin/env bash
# Regenerate the checked-in protobuf code; CI runs this and fails on any diff.
set -euo pipefail
cd "$(dirname "$0")"
# Messages only: the service is registered from fedsilo/transport/service.py, so no
# generated servicer base class (placeholder methods) exists.
python -m grpc_tools.protoc -I. --python_out=. --pyi_out=. fedsilo.proto
