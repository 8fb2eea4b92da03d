"""The stage label the aggregator signs is the message's own. A malicious aggregator that
signs a session message under the outcome label (which every silo awaits alongside each
stage) is refused by every silo: accepted, it would have made a silo's dispute fail
anyone's later check, so the aggregator could deny a forgery."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from fedsilo.crypto.signatures import IdentityKey
from fedsilo.errors import RemoteProtocolError
from fedsilo.pki.files import load_identity_key
from fedsilo.pki.trust import Member
from fedsilo.transport import codec
from fedsilo.transport.calls import CallContext, SignedEnvelope
from fedsilo.transport.handlers import AggregatorHandlers
from fedsilo.transport.proto import fedsilo_pb2 as pb
from tests.nodes.live import LiveFederation

SILOS = [f"s{i}" for i in range(1, 6)]


class RelabelsTheRelease:
    """The honest aggregator, except that it signs its release as an outcome."""

    def __init__(self, inner: AggregatorHandlers, identity: IdentityKey) -> None:
        self._inner, self._identity = inner, identity

    def __getattr__(self, name: str) -> Callable[..., object]:
        return getattr(self._inner, name)  # type: ignore[no-any-return]

    def await_message(self, member: Member, context: CallContext, timeout: float) -> SignedEnvelope:
        signed = pb.Signed.FromString(self._inner.await_message(member, context, timeout))
        if signed.stage != "release":
            return signed.SerializeToString()
        body = bytes(signed.body)
        return codec.sign(self._identity, body, codec.MESSAGE_KIND, codec.OUTCOME_STAGE)


def test_a_release_signed_under_the_outcome_label_is_refused_by_every_silo(
    tmp_path: Path,
) -> None:
    def rogue(handlers: AggregatorHandlers) -> AggregatorHandlers:
        key = load_identity_key(tmp_path / "fed" / "agg" / "agg.key")
        return RelabelsTheRelease(handlers, key)  # type: ignore[return-value]

    live = LiveFederation(tmp_path, params=2000, transport="memory", rogue=rogue)
    try:
        live.run_rounds()
        live.start_silos(SILOS)
        live.finish(120)
        for silo in SILOS:
            error = live.silo_errors.get(silo)
            assert isinstance(error, RemoteProtocolError), live.silo_errors
            assert "signed a release message as one for stage 'outcome'" in str(error)
            assert live.fed.released(1) is None
    finally:
        live.close()
