"""Pairwise masking (Bonawitz et al. 2017, active variant) behind the scheme seam.

Its config section is :class:`MaskingScheme`, its rules the t-of-n rules plus
no-overflow and size (:mod:`.params`), its parameters :class:`MaskingParams`,
its sessions :class:`~fedsilo.protocol.masking.silo.MaskingSilo` and
:class:`~fedsilo.protocol.masking.aggregator.MaskingAggregator`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from fedsilo.crypto.encoding import encode
from fedsilo.crypto.entropy import Entropy
from fedsilo.crypto.prg import UIntArray
from fedsilo.crypto.quantize import Quantizer
from fedsilo.crypto.signatures import IdentityKey
from fedsilo.protocol import fields
from fedsilo.protocol.chain import ChainHead
from fedsilo.protocol.fields import Reader
from fedsilo.protocol.ledger import RoundLedger
from fedsilo.protocol.masking.catchup import evidence_fetches, join_evidence, verify_evidence
from fedsilo.protocol.masking.messages import EvidenceNotice, Stage
from fedsilo.protocol.masking.params import (
    RELEASE_VERIFICATIONS,
    MaskingParams,
    overflow_finding,
    resolve_full_verification,
    size_findings,
)
from fedsilo.protocol.masking.session import MaskingAggregatorSession
from fedsilo.protocol.masking.silo import MaskingSilo
from fedsilo.protocol.masking.silo_session import MaskingSiloSession
from fedsilo.protocol.masking.wire import MaskingWire
from fedsilo.protocol.messages import AggregateResult, SessionContext
from fedsilo.protocol.outputs import INPUTS_DOWNLOAD, RESULT_DOWNLOAD, Fetch
from fedsilo.protocol.roster import Roster
from fedsilo.protocol.scheme import (
    RELEASE_STAGE,
    FederationFacts,
    Finding,
    Scheme,
    StageSpec,
)
from fedsilo.protocol.thresholds import dropout_findings, read_threshold, threshold_findings

_WIRE = MaskingWire()


@dataclass(frozen=True)
class Quantization:
    """Clip range ``[-clip, clip]`` and number of levels of the fixed-point encoding."""

    clip: float
    levels: int


@dataclass(frozen=True)
class MaskingScheme:
    """Pairwise masking. ``release_verification`` is how every silo checks a released sum:
    ``full`` (it fetches every survivor's masked vector), ``sketch`` (a linear sketch and
    spot checks), or ``auto`` (full for vectors of at most 2^20 words; see
    ``fedsilo.protocol.masking.params.resolve_full_verification``)."""

    threshold: int
    colluders: int
    modulus_bits: int
    quantization: Quantization
    kind: str = "masking"
    release_verification: str = "auto"

    @property
    def clip(self) -> float:
        return self.quantization.clip

    def quantizer(self) -> Quantizer:
        """The fixed-point encoding every silo quantizes its update with."""
        return Quantizer(self.quantization.clip, self.quantization.levels, self.modulus_bits)


KEYS = {"kind", "threshold", "colluders", "modulus_bits", "quantization", "release_verification"}


class Masking(Scheme):
    kind = "masking"
    stages = (
        StageSpec(Stage.ADVERTISE_KEYS.value, "silos", 60.0),
        StageSpec(Stage.SHARE_KEYS.value, "silos", 60.0),
        StageSpec(Stage.SHARE_CHECK.value, "silos", 60.0),
        StageSpec(Stage.MASKED_INPUT.value, "silos", 600.0),
        StageSpec(Stage.CONSISTENCY_CHECK.value, "silos", 60.0, verifies=True),
        StageSpec(Stage.UNMASKING.value, "silos", 120.0),
        RELEASE_STAGE,
    )
    # with full release verification the survivors fetch every y_u as well
    downloads = (RESULT_DOWNLOAD, INPUTS_DOWNLOAD)

    def parse(
        self, reader: Reader, section: dict[str, Any], facts: FederationFacts
    ) -> MaskingScheme:
        r = reader
        m = r.mapping(section, "scheme", KEYS)
        threshold, colluders = read_threshold(r, m, facts)
        q = r.mapping(m.get("quantization", {}), "scheme.quantization", {"clip", "levels"})
        return MaskingScheme(
            threshold=threshold,
            colluders=colluders,
            modulus_bits=r.get(m, "modulus_bits", "scheme", fields.one_of(32, 64), default=32)
            or 32,
            quantization=Quantization(
                clip=r.get(q, "clip", "scheme.quantization", fields.positive_number, default=1.0)
                or 1.0,
                levels=r.get(
                    q, "levels", "scheme.quantization", fields.integer(2, 2**53), default=1 << 16
                )
                or 2,
            ),
            release_verification=r.get(
                m,
                "release_verification",
                "scheme",
                fields.choice(RELEASE_VERIFICATIONS),
                default="auto",
            )
            or "auto",
        )

    def rules(self, config: MaskingScheme, facts: FederationFacts) -> list[Finding]:
        n, t = facts.silos, config.threshold
        min_silos = t if facts.min_silos is None else facts.min_silos
        return [
            *threshold_findings(n, t, config.colluders),
            *dropout_findings(n, t, min_silos),
            *size_findings(n, t),
            overflow_finding(n, config.quantization.levels, config.modulus_bits, facts.max_samples),
        ]

    def local_section(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "colluders": 1,
            "modulus_bits": 32,
            "quantization": {"clip": 1.0, "levels": 1 << 20},
        }

    def quantizer(self, config: MaskingScheme) -> Quantizer:
        return config.quantizer()

    @property
    def wire(self) -> MaskingWire:
        return _WIRE

    def announced(self, params: MaskingParams) -> bytes:
        # the width of the words every masked input is made of
        return encode("fedsilo/masking/announced/v1", params.bits)

    def params(
        self, config: MaskingScheme, facts: FederationFacts, vector_length: int | None
    ) -> MaskingParams:
        """The masking parameters; with the masked vector's ``vector_length`` (model
        parameters plus slots) also its release verification mode, which every party
        resolves the same way from the same config."""
        self.check(config, facts)
        full = vector_length is not None and resolve_full_verification(
            config.release_verification, vector_length
        )
        return MaskingParams(
            facts.silos,
            config.threshold,
            config.colluders,
            config.quantizer(),
            full_verification=full,
            min_silos=config.threshold if facts.min_silos is None else facts.min_silos,
        )

    def silo_session(
        self,
        params: MaskingParams,
        *,
        context: SessionContext,
        roster: Roster,
        index: int,
        identity: IdentityKey,
        entropy: Entropy,
        ledger: RoundLedger,
        protected: UIntArray,
        revoked: Mapping[int, str] | None = None,
        secret: Any = None,
    ) -> MaskingSiloSession:
        core = MaskingSilo(
            context=context,
            roster=roster,
            params=params,
            index=index,
            identity=identity,
            entropy=entropy,
            ledger=ledger,
            quantized_input=protected,
        )
        return MaskingSiloSession(core, params, revoked)

    def resume_silo_session(
        self,
        params: MaskingParams,
        kept: dict[str, Any],
        *,
        roster: Roster,
        identity: IdentityKey,
        entropy: Entropy,
        ledger: RoundLedger,
        secret: Any = None,
    ) -> MaskingSiloSession:
        core = MaskingSilo.resume(
            kept, roster=roster, params=params, identity=identity, entropy=entropy, ledger=ledger
        )
        return MaskingSiloSession(core, params)

    def aggregator_session(
        self,
        params: MaskingParams,
        *,
        context: SessionContext,
        roster: Roster,
        vector_length: int,
    ) -> MaskingAggregatorSession:
        return MaskingAggregatorSession.new(
            params, context=context, roster=roster, vector_length=vector_length
        )

    def resume_aggregator_session(
        self,
        params: MaskingParams,
        record: dict[str, Any],
        data: bytes,
        *,
        context: SessionContext,
        roster: Roster,
    ) -> MaskingAggregatorSession:
        return MaskingAggregatorSession.resume(params, record, data, context=context, roster=roster)

    def evidence_fetches(
        self, params: MaskingParams, evidence: EvidenceNotice, *, silos: int, vector_length: int
    ) -> list[Fetch]:
        return evidence_fetches(evidence, params=params, silos=silos, vector_length=vector_length)

    def verify_evidence(
        self,
        params: MaskingParams,
        evidence: EvidenceNotice,
        downloads: Mapping[str, bytes | bytearray],
        *,
        roster: Roster,
        federation: str,
        config_digest: bytes,
        chain: ChainHead,
        vector_length: int,
    ) -> AggregateResult:
        return verify_evidence(
            join_evidence(evidence, downloads, params=params, vector_length=vector_length),
            roster=roster,
            params=params,
            federation=federation,
            config_digest=config_digest,
            chain=chain,
            vector_length=vector_length,
        )


MASKING = Masking()
