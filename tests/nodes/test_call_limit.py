"""One silo cannot hold the aggregator's shared worker pool: it may have at most
MAX_CALLS_PER_SILO calls open, and the others are still served meanwhile."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest

from fedsilo.errors import TooManyCallsError
from fedsilo.transport.client import AggregatorClient, refusal_error
from fedsilo.transport.proto import fedsilo_pb2 as pb
from fedsilo.transport.server import MAX_CALLS_PER_SILO
from fedsilo.transport.service import AggregationStub
from tests.nodes.live import LiveFederation


@pytest.fixture
def live(tmp_path: Path) -> Iterator[LiveFederation]:
    federation = LiveFederation(tmp_path)
    federation.run_rounds()
    try:
        yield federation
    finally:
        federation.close()


def long_poll(live: LiveFederation, name: str) -> pb.AwaitRequest:
    """An await for a stage of a session that does not exist: it waits out its timeout."""
    config, index = live.fed.config, int(name.removeprefix("s"))
    context = pb.Context(
        federation=config.federation,
        config_digest=bytes.fromhex(config.digest()[7:]),
        round=1,
        stage="share-keys",
        sender=index,
        session_id=bytes(32),
    )
    return pb.AwaitRequest(context=context)


def test_a_silo_with_too_many_calls_open_is_refused_and_the_others_are_still_served(
    live: LiveFederation,
) -> None:
    client = live.client("s5")
    assert isinstance(client, AggregatorClient)
    stub = AggregationStub(client.channel)
    ended: list[grpc.StatusCode] = []

    def hold() -> None:
        try:
            stub.Await(long_poll(live, "s5"), timeout=4)
        except grpc.RpcError as exc:
            ended.append(exc.code())

    holding = [threading.Thread(target=hold) for _ in range(MAX_CALLS_PER_SILO)]
    for thread in holding:
        thread.start()
    try:
        threading.Event().wait(1.0)  # every held poll has reached the aggregator
        with pytest.raises(grpc.RpcError) as caught:
            stub.Await(long_poll(live, "s5"), timeout=4)
        assert caught.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
        refused = refusal_error(caught.value)
        assert type(refused) is TooManyCallsError
        assert f"{MAX_CALLS_PER_SILO} calls open" in str(refused)
        other = live.client("s1")
        assert live.announcement(other, "s1").context.round == 1  # s1 is served meanwhile
    finally:
        for thread in holding:
            thread.join(10)
    # the held calls were served (nothing to await: not ready), none refused
    assert ended == MAX_CALLS_PER_SILO * [grpc.StatusCode.DEADLINE_EXCEEDED]
    # they ended: s5 may call again
    assert live.announcement(client, "s5").context.round == 1
