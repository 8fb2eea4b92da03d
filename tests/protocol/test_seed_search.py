"""Seeds resist search: 16-bit seeds fall to enumeration; real seeds are 256-bit draws."""

from __future__ import annotations

import numpy as np

from fedsilo.crypto import kdf
from fedsilo.crypto.entropy import SystemEntropy
from fedsilo.crypto.prg import apply_masks, keystream_words
from fedsilo.protocol.masking import payloads
from fedsilo.protocol.masking.messages import KeyAdvert, MaskedInput
from fedsilo.testing.adversary import Adversary
from fedsilo.testing.entropy import RecordingEntropy, SeededEntropy, TruncatedEntropy
from fedsilo.testing.harness import make_federation, random_inputs, run_aggregation

FED = make_federation(3)
LEVELS = FED.params.quantizer.levels


def test_an_attacker_recovers_the_input_when_seeds_have_only_16_bits() -> None:
    inputs = random_inputs(FED, 256)
    adversary = Adversary()
    weak = TruncatedEntropy(16, SeededEntropy("weak"))
    run_aggregation(FED, inputs, adversary=adversary, entropies={1: weak})
    adverts = {m.sender: m for m in adversary.seen if isinstance(m, KeyAdvert)}
    (y,) = [m.values for m in adversary.seen if isinstance(m, MaskedInput) and m.sender == 1]
    ctx = FED.context()

    mask_sk = next(  # 2^16 candidate mask-key seeds, matched against the public advert
        sk
        for v in range(1 << 16)
        if payloads.public_of(sk := v.to_bytes(32, "big")) == adverts[1].mask_public_key
    )
    unpaired = y.copy()
    pairs = [payloads.pair_mask(mask_sk, adverts[v].mask_public_key, ctx, 1, v) for v in (2, 3)]
    apply_masks(unpaired, payloads.negate(pairs), 32)

    recovered = None
    for b in range(1 << 16):  # 2^16 candidate self-mask seeds: the right one leaves x < L
        key = kdf.derive_self_mask_key(b.to_bytes(32, "big"), ctx.fields(), 1)
        if np.all(unpaired[:8] - keystream_words(key, 32, 8) < LEVELS):
            recovered = unpaired - keystream_words(key, 32, len(unpaired))
            break
    assert recovered is not None
    assert np.array_equal(recovered, inputs[0])


def test_real_seeds_are_full_256_bit_draws_from_the_injected_entropy() -> None:
    recording = RecordingEntropy(SeededEntropy("strong"))
    run = run_aggregation(FED, random_inputs(FED, 16), entropies={1: recording})
    silo = run.silos[1]
    draws_of_32 = [d for d in recording.draws if len(d) == 32]
    assert silo._self_seed in draws_of_32
    assert silo._mask_seed in draws_of_32  # the mask key is derived from it
    assert kdf.x25519_private_bytes(silo._cipher_sk) in draws_of_32
    # and the 2 (t - 1) random coefficients of the two sharing polynomials (scalars are
    # drawn by rejection below q, so a draw may be repeated afresh), never one draw twice
    coefficients = 2 * (FED.params.threshold - 1)
    assert len(set(draws_of_32)) == len(draws_of_32) >= 3 + coefficients


def test_production_entropy_is_the_operating_system_csprng() -> None:
    source = SystemEntropy()
    a, b = source.random_bytes(32), source.random_bytes(32)
    assert len(a) == 32 and a != b
