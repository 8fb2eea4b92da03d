#!/usr/bin/env bash
# Regenerate the checked-in protobuf code; CI runs this and fails on any diff.
set -euo pipefail
cd "$(dirname "$0")"
python -m grpc_tools.protoc -I. --python_out=. --pyi_out=. --grpc_python_out=. fedsilo.proto
# grpc's generator imports the message module as a top-level name; make it package-relative.
sed -i 's/^import fedsilo_pb2 as fedsilo__pb2$/from fedsilo.transport.proto import fedsilo_pb2 as fedsilo__pb2/' fedsilo_pb2_grpc.py
