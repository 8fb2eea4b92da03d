"""Threshold Paillier behind the scheme seam: its config section and its rules.

Its sessions are not built yet, so the scheme is registered as not runnable:
configs naming it load and are audited rule by rule, every node refuses to run
them, and the auditor says so (``scheme.runnable``), so that "the auditor says
safe" always means "the nodes accept it".
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from fedsilo.crypto.packing import default_slot_bits, slot_layout
from fedsilo.crypto.quantize import Quantizer
from fedsilo.errors import ConfigError
from fedsilo.protocol import fields
from fedsilo.protocol.fields import Reader
from fedsilo.protocol.scheme import (
    RELEASE_STAGE,
    FederationFacts,
    Finding,
    Scheme,
    StageSpec,
    fails,
    passes,
    warns,
)
from fedsilo.protocol.thresholds import dropout_findings, read_threshold, threshold_findings


@dataclass(frozen=True)
class PaillierScheme:
    """Threshold Paillier: key size, decryption threshold among silos, packing."""

    key_bits: int
    threshold: int
    colluders: int
    dealer: str
    value_bits: int
    slot_bits: int
    clip: float
    kind: str = "paillier"


KEYS = {"kind", "key_bits", "threshold", "colluders", "dealer", "value_bits", "slot_bits", "clip"}


class Paillier(Scheme):
    kind = "paillier"
    stages = (
        StageSpec("contribute", "silos", 600.0),
        StageSpec("decryption-shares", "silos", 600.0),
        RELEASE_STAGE,
    )
    runnable = False

    def parse(
        self, reader: Reader, section: dict[str, Any], facts: FederationFacts
    ) -> PaillierScheme:
        r = reader
        m = r.mapping(section, "scheme", KEYS)
        threshold, colluders = read_threshold(r, m, facts)
        value_bits = r.get(m, "value_bits", "scheme", fields.integer(2, 64), default=16) or 16
        return PaillierScheme(
            key_bits=r.get(m, "key_bits", "scheme", fields.integer(512, 16384), default=3072) or 0,
            threshold=threshold,
            colluders=colluders,
            dealer=r.get(m, "dealer", "scheme", fields.name) or "",
            value_bits=value_bits,
            slot_bits=r.get(
                m,
                "slot_bits",
                "scheme",
                fields.integer(2, 4096),
                default=default_slot_bits(value_bits, facts.silos),
            )
            or 0,
            clip=r.get(m, "clip", "scheme", fields.positive_number, default=1.0) or 1.0,
        )

    def rules(self, config: PaillierScheme, facts: FederationFacts) -> list[Finding]:
        n, t = facts.silos, config.threshold
        min_silos = t if facts.min_silos is None else facts.min_silos
        return [
            *threshold_findings(n, t, config.colluders),
            *dropout_findings(n, t, min_silos),
            _overflow(config, n),
            _key_size(config.key_bits),
            _decryption(config, facts),
        ]

    def local_section(self) -> dict[str, Any]:
        return {"kind": self.kind, "key_bits": 3072, "colluders": 1, "dealer": "dealer"}

    def quantizer(self, config: PaillierScheme) -> Quantizer:
        raise self._not_yet()

    def params(
        self, config: PaillierScheme, facts: FederationFacts, vector_length: int | None
    ) -> Any:
        raise self._not_yet()

    @staticmethod
    def _not_yet() -> ConfigError:
        return ConfigError(
            "scheme.kind: this version of fedsilo has no paillier sessions yet; "
            "no node runs a paillier federation (use kind: masking)"
        )


def _overflow(scheme: PaillierScheme, n: int) -> Finding:
    """The packing's own rule (:func:`fedsilo.crypto.packing.slot_layout`), as a finding."""
    try:
        layout = slot_layout(
            value_bits=scheme.value_bits,
            silos=n,
            key_bits=scheme.key_bits,
            slot_bits=scheme.slot_bits,
        )
    except ConfigError as exc:
        reason, _, fix = str(exc).partition("; ")
        return fails("quantization.overflow", reason, fix or "change scheme.slot_bits")
    return passes(
        "quantization.overflow",
        f"{layout.slot_bits}-bit slots hold the sum of {n} values ({layout.slots} per plaintext)",
    )


def _key_size(bits: int) -> Finding:
    if bits >= 3072:
        return passes("paillier.key-size", f"{bits}-bit key")
    if bits >= 2048:
        return warns(
            "paillier.key-size",
            f"{bits}-bit key is legacy strength (disallowed after 2030)",
            "use key_bits: 3072",
        )
    return fails("paillier.key-size", f"{bits}-bit key is breakable", "use key_bits: 3072")


def _decryption(scheme: PaillierScheme, facts: FederationFacts) -> Finding:
    t, n_c = scheme.threshold, scheme.colluders
    if scheme.dealer == facts.aggregator:
        return fails(
            "paillier.threshold-decryption",
            "the aggregator deals the key, so it can decrypt every update",
            "name a trusted dealer other than the aggregator",
        )
    if t < 2 or t <= n_c:
        return fails(
            "paillier.threshold-decryption",
            f"decryption threshold {t} lets n_C = {n_c} "
            "colluding silos (with the aggregator) decrypt alone",
            f"raise scheme.threshold above {max(1, n_c)}",
        )
    return passes(
        "paillier.threshold-decryption",
        f"{t}-of-{facts.silos} silos must decrypt together; the aggregator holds no share; "
        f"trusted dealer: {scheme.dealer}",
    )
