"""The silo node: connects out to the aggregator and runs each round's session.

Before it trusts anything it checks: the aggregator's certificate is the
pinned one (and every message claiming to come from the aggregator is
signed by that certificate's key); every other silo's certificate is the
pinned one, valid and not revoked; the announced config digest is ours;
the model layout the aggregator serves is the pinned one, and so is its
own; the downloaded global model has the announced hash. Then it evaluates
the global model on its held-out split, trains, encodes
``[w * delta, w, correct, examples]`` (:mod:`fedsilo.training.weighted`) and
drives its :class:`MaskingSilo` session stage by stage.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np

from fedsilo.config.model import FederationConfig, MaskingScheme
from fedsilo.crypto.entropy import Entropy, SystemEntropy
from fedsilo.crypto.prg import UIntArray, word_dtype
from fedsilo.crypto.quantize import Quantizer
from fedsilo.crypto.signatures import IdentityKey, VerifyingKey
from fedsilo.errors import ConfigError, ContextMismatchError, ProtocolError, RemoteProtocolError
from fedsilo.pki.identity import Role
from fedsilo.pki.trust import TrustStore
from fedsilo.protocol.masking.ledger import UnmaskLedger
from fedsilo.protocol.masking.params import MaskingParams
from fedsilo.protocol.masking.silo import MaskingSilo
from fedsilo.protocol.messages import (
    MaskedInput,
    MaskedInputStream,
    SessionContext,
    SiloMessage,
    Stage,
)
from fedsilo.protocol.roster import Roster, SiloEntry
from fedsilo.runtime.events import EventLog
from fedsilo.training.local import LocalTrainer, check_served_layout
from fedsilo.training.weighted import SecureFedAvg
from fedsilo.transport import codec
from fedsilo.transport.client import CHUNK_BYTES, AggregatorClient
from fedsilo.transport.proto import fedsilo_pb2 as pb

MAX_VECTOR_WORDS = 1 << 31
AWAITED = [Stage.SHARE_KEYS, Stage.MASKED_INPUT, Stage.CONSISTENCY_CHECK, Stage.UNMASKING]


def masking_params(config: FederationConfig) -> MaskingParams:
    scheme = config.scheme
    if not isinstance(scheme, MaskingScheme):
        raise ConfigError("this node runs the masking scheme; the config names another")
    quantizer = Quantizer(scheme.quantization.clip, scheme.quantization.levels, scheme.modulus_bits)
    return MaskingParams(len(config.silos), scheme.threshold, scheme.colluders, quantizer)


def secure_fedavg(config: FederationConfig) -> SecureFedAvg:
    """The weighted-update encoding, refused if any part of the sum could wrap."""
    codec = SecureFedAvg(masking_params(config).quantizer, config.training.max_samples)
    codec.check_capacity(len(config.silos))
    return codec


@dataclass
class RoundResult:
    round: int
    survivors: tuple[int, ...]
    total: UIntArray


class SiloNode:
    """One institution's node."""

    def __init__(
        self,
        *,
        config: FederationConfig,
        name: str,
        identity: IdentityKey,
        client: AggregatorClient,
        trust: TrustStore,
        trainer: LocalTrainer,
        ledger: UnmaskLedger,
        log: EventLog,
        entropy: Entropy | None = None,
    ) -> None:
        if name not in config.silo_names:
            raise ConfigError(f"{name!r} is not a silo of {config.federation}")
        self.config, self.name, self.index = (
            config,
            name,
            config.silo_names.index(name) + 1,
        )
        self._identity, self._client, self._trust = identity, client, trust
        self._trainer, self._ledger, self._log = trainer, ledger, log
        self._entropy = entropy or SystemEntropy()
        self.params = masking_params(config)
        self.codec = secure_fedavg(config)
        self._digest = bytes.fromhex(config.digest().removeprefix("sha256:"))
        self._patience = sum(vars(config.timeouts).values()) + 30.0
        self._aggregator_key: VerifyingKey | None = None
        self._roster: Roster | None = None
        # Observation points for benchmarks: called after local training, before the
        # session starts, and with the quantized input (which never leaves this process).
        self.before_session: Callable[[int], None] | None = None
        self.on_quantized: Callable[[int, UIntArray], None] | None = None

    # --- trust --------------------------------------------------------------------------

    def connect(self) -> None:
        """Join, and check the aggregator's and every silo's certificate against the pins."""
        reply = self._client.join(
            pb.JoinRequest(
                federation=self.config.federation,
                config_digest=self._digest,
                name=self.name,
            )
        )
        _, agg_cert = self._trust.verify_der(bytes(reply.aggregator_certificate), Role.AGGREGATOR)
        self._aggregator_key = VerifyingKey.from_public_key(agg_cert.public_key())
        if len(reply.silo_certificates) != len(self.config.silos):
            raise RemoteProtocolError("the aggregator sent a roster of the wrong size")
        entries = []
        for i, (der, silo) in enumerate(
            zip(reply.silo_certificates, self.config.silos, strict=True), 1
        ):
            member, cert = self._trust.verify_der(bytes(der), Role.SILO)
            if member.name != silo.name:
                raise RemoteProtocolError(
                    f"roster position {i} holds {member.name}, not {silo.name}"
                )
            entries.append(SiloEntry(i, silo.name, VerifyingKey.from_public_key(cert.public_key())))
        self._roster = Roster(tuple(entries))
        # served == pinned and ours == served, so ours == pinned, and a mismatch is named
        check_served_layout(
            bytes(reply.model_layout), self.config.model.layout_sha256, self._trainer.layout
        )
        self._log("joined", silo=self.name)

    def _open(self, signed: pb.Signed, kind: type) -> object:
        assert self._aggregator_key is not None
        return codec.parse(kind, codec.open_signed(self._aggregator_key, signed))

    def _await(self, ctx: SessionContext | None, stage: str, round_number: int) -> pb.Signed:
        context = (
            codec.context_pb(ctx, stage, self.index)
            if ctx is not None
            else pb.Context(
                federation=self.config.federation,
                config_digest=self._digest,
                round=round_number,
                stage=stage,
                sender=self.index,
            )
        )
        return self._client.await_signed(pb.AwaitRequest(context=context), self._patience)

    # --- rounds -------------------------------------------------------------------------

    def run_round(self, round_number: int) -> RoundResult:
        """Take part in ``round_number``, following restarted sessions, until it is released."""
        if self._roster is None:
            self.connect()
        previous = b""
        for _ in range(4):
            request = pb.Context(
                federation=self.config.federation,
                config_digest=self._digest,
                round=round_number,
                stage=codec.ANNOUNCE_STAGE,
                sender=self.index,
                session_id=previous,
            )
            signed = self._client.await_signed(pb.AwaitRequest(context=request), self._patience)
            announcement = self._open(signed, pb.SessionAnnouncement)
            assert isinstance(announcement, pb.SessionAnnouncement)
            ctx = self._check_announcement(announcement, round_number)
            outcome = self._run_session(ctx, announcement)
            if outcome.released:
                return self._fetch_result(ctx, tuple(outcome.survivors), announcement)
            self._log("session-not-released", silo=self.name, reason=outcome.reason)
            previous = ctx.session_id
        raise ProtocolError(f"round {round_number} was not released after several sessions")

    def _check_announcement(self, a: pb.SessionAnnouncement, round_number: int) -> SessionContext:
        ctx = codec.session_of(a.context)
        if ctx.federation_id != self.config.federation or ctx.config_digest != self._digest:
            raise ContextMismatchError(
                f"the aggregator announced config sha256:{ctx.config_digest.hex()}, "
                f"this silo runs {self.config.digest()}"
            )
        if ctx.round < round_number:
            raise ContextMismatchError(
                f"announcement for round {ctx.round}, expected {round_number}"
            )
        if a.modulus_bits != self.params.bits or not 0 < a.vector_length <= MAX_VECTOR_WORDS:
            raise RemoteProtocolError("the announced vector does not fit the config's limits")
        return ctx

    def _run_session(self, ctx: SessionContext, a: pb.SessionAnnouncement) -> pb.RoundOutcome:
        parameters = self.codec.parameters(int(a.vector_length))
        if parameters != self._trainer.layout.vector_length:
            raise RemoteProtocolError(
                f"the announced vector holds {parameters} parameters, the pinned model "
                f"{self._trainer.layout.vector_length}"
            )
        model_bytes = self._client.fetch(
            "model",
            pb.ResultRequest(context=codec.context_pb(ctx, "model", self.index)),
            parameters * 4,
            4,
        )
        if hashlib.sha256(model_bytes).digest() != bytes(a.model_hash):
            raise RemoteProtocolError(
                "the downloaded global model does not match its announced hash"
            )
        model = np.frombuffer(model_bytes, dtype="<f4").astype(np.float32)
        result = self._trainer.local_round(ctx.round, model)
        self._log(
            "trained",
            silo=self.name,
            round=ctx.round,
            samples=result.samples,
            local_accuracy=round(result.evaluation.accuracy, 4),
        )
        assert self._roster is not None
        if self.before_session is not None:
            self.before_session(ctx.round)
        quantized = self.codec.encode(result, self._entropy)
        if self.on_quantized is not None:
            self.on_quantized(ctx.round, quantized)
        session = MaskingSilo(
            context=ctx,
            roster=self._roster,
            params=self.params,
            index=self.index,
            identity=self._identity,
            entropy=self._entropy,
            ledger=self._ledger,
            model_hash=bytes(a.model_hash),
            quantized_input=quantized,
        )
        self._send(ctx, session.start())
        for stage in AWAITED:
            message = self._open(self._await(ctx, stage.value, ctx.round), pb.AggregatorMessage)
            assert isinstance(message, pb.AggregatorMessage)
            if message.recipient != self.index:
                raise RemoteProtocolError(
                    "the aggregator sent us a message addressed to another silo"
                )
            decoded = codec.aggregator_message(message)
            if isinstance(decoded, pb.RoundOutcome):
                return decoded
            self._send(ctx, session.receive(decoded))
            self._log("stage", silo=self.name, stage=stage.value)
        final = self._open(self._await(ctx, codec.OUTCOME_STAGE, ctx.round), pb.AggregatorMessage)
        assert isinstance(final, pb.AggregatorMessage)
        outcome = codec.aggregator_message(final)
        if not isinstance(outcome, pb.RoundOutcome):
            raise RemoteProtocolError("expected the round's outcome")
        return outcome

    def _send(self, ctx: SessionContext, messages: list[SiloMessage]) -> None:
        for message in messages:
            if isinstance(message, MaskedInputStream):
                self._client.upload_from(self._input_chunks(ctx, message))
            elif isinstance(message, MaskedInput):
                raise ProtocolError("the masking session streams its input")
            else:
                self._client.submit(codec.silo_message_pb(message))

    def _input_chunks(
        self, ctx: SessionContext, stream: MaskedInputStream
    ) -> Callable[[int], Iterator[pb.InputChunk]]:
        """Mask and send chunk by chunk, so masking overlaps the transfer."""
        wire = codec.context_pb(ctx, Stage.MASKED_INPUT.value, self.index)
        words = CHUNK_BYTES // word_dtype(self.params.bits).itemsize

        def source(start: int) -> Iterator[pb.InputChunk]:
            for chunk in stream.chunks(words, start):
                yield pb.InputChunk(
                    context=wire,
                    offset=chunk.offset,
                    total_length=chunk.total_length,
                    data=codec.words_to_bytes(chunk.values),
                )

        return source

    def _fetch_result(
        self, ctx: SessionContext, survivors: tuple[int, ...], a: pb.SessionAnnouncement
    ) -> RoundResult:
        word = word_dtype(self.params.bits).itemsize
        data = self._client.fetch(
            "result",
            pb.ResultRequest(context=codec.context_pb(ctx, "result", self.index)),
            int(a.vector_length) * word,
            word,
        )
        total = codec.bytes_to_words(data, self.params.bits).copy()
        self._log("round-released", silo=self.name, round=ctx.round, survivors=len(survivors))
        return RoundResult(ctx.round, survivors, total)
