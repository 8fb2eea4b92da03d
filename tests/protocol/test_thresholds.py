"""The threshold rules of ARCHITECTURE section 3, enforced when parameters are built."""

from __future__ import annotations

import pytest

from fedsilo.crypto.quantize import Quantizer
from fedsilo.errors import ConfigError
from fedsilo.protocol.masking.params import MaskingParams, check_thresholds
from fedsilo.protocol.thresholds import default_threshold

Q = Quantizer(1.0, 1 << 16)


@pytest.mark.parametrize(("n", "t"), [(3, 3), (4, 3), (5, 4), (6, 5), (7, 5), (10, 7), (20, 14)])
def test_default_threshold_is_two_thirds_plus_one(n: int, t: int) -> None:
    assert default_threshold(n) == t


def test_fewer_than_three_silos_are_refused() -> None:
    with pytest.raises(ConfigError, match=r"threshold\.minimum-silos"):
        check_thresholds(2, 2, 0)


def test_threshold_must_exceed_half_of_n_plus_colluders() -> None:
    with pytest.raises(ConfigError, match=r"threshold\.majority"):
        check_thresholds(6, 4, 2)  # 8 <= 8
    check_thresholds(6, 5, 2)


def test_threshold_must_leave_three_survivors_and_two_beyond_colluders() -> None:
    with pytest.raises(ConfigError, match=r"threshold\.survivors"):
        check_thresholds(3, 2, 0)
    with pytest.raises(ConfigError, match=r"threshold\.survivors"):
        check_thresholds(4, 4, 3)  # the majority rule holds (8 > 7), one honest silo is too few


def test_threshold_cannot_exceed_n() -> None:
    with pytest.raises(ConfigError, match=r"threshold\.range"):
        check_thresholds(5, 6, 0)


def test_parameters_refuse_quantization_that_could_overflow() -> None:
    with pytest.raises(ConfigError, match="overflow"):
        MaskingParams.with_defaults(10, 1, Quantizer(1.0, 1 << 29))


def test_secure_defaults_hold_for_every_small_federation_that_has_a_secure_threshold() -> None:
    for n in range(3, 40):
        for n_c in range(0, n):
            if max(3, n_c + 2, (n + n_c) // 2 + 1) <= n:  # some threshold is secure
                MaskingParams.with_defaults(n, n_c, Q)  # so the default is one of them


def test_a_federation_whose_sharing_commitments_overflow_one_relay_is_refused_in_one_line() -> None:
    quantizer = Quantizer(1.0, 1 << 16, 32)
    MaskingParams.with_defaults(50, 1, quantizer)  # 50 silos fit
    with pytest.raises(ConfigError, match=r"threshold.size: 60 silos .* MiB") as caught:
        MaskingParams.with_defaults(60, 1, quantizer)
    assert "\n" not in str(caught.value)
