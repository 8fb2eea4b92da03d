"""The service's method table is the service the .proto declares."""

from __future__ import annotations

from fedsilo.transport.proto import fedsilo_pb2 as pb
from fedsilo.transport.service import METHODS, SERVICE


def test_the_method_table_matches_the_proto_service_exactly() -> None:
    declared = pb.DESCRIPTOR.services_by_name["Aggregation"]
    assert declared.full_name == SERVICE
    expected = {
        (
            m.name,
            m.input_type.full_name,
            m.output_type.full_name,
            m.client_streaming,
            m.server_streaming,
        )
        for m in declared.methods
    }
    table = {
        (
            m.name,
            m.request.DESCRIPTOR.full_name,
            m.response.DESCRIPTOR.full_name,
            m.client_streaming,
            m.server_streaming,
        )
        for m in METHODS
    }
    assert table == expected
