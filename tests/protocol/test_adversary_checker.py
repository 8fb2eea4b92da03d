"""The exposure checker used by the malicious-aggregator tests can fail."""

from __future__ import annotations

from fedsilo.protocol.masking.messages import (
    DealerCommitments,
    EncryptedShare,
    RevealedShare,
    ShareUpload,
    UnmaskingShares,
)
from fedsilo.testing.adversary import Adversary, exposed_silos
from fedsilo.testing.harness import make_federation

CTX = make_federation(3).context()


def unmasking(sender: int, self_owners: list[int], key_owners: list[int]) -> UnmaskingShares:
    return UnmaskingShares(
        CTX,
        sender,
        tuple(RevealedShare(o, b"") for o in self_owners),
        tuple(RevealedShare(o, b"") for o in key_owners),
        b"",
    )


def test_a_silo_with_both_share_kinds_at_t_holders_is_flagged() -> None:
    adversary = Adversary()
    adversary.seen = [unmasking(h, [1], [1]) for h in (2, 3, 4)]
    assert exposed_silos(adversary, honest=[1, 2, 3, 4], threshold=3) == [1]


def test_t_minus_one_holders_of_one_kind_is_not_an_exposure() -> None:
    adversary = Adversary()
    adversary.seen = [unmasking(h, [1], [1] if h != 4 else []) for h in (2, 3, 4)]
    assert exposed_silos(adversary, honest=[1, 2, 3, 4], threshold=3) == []


def test_colluders_count_as_holders_of_both_kinds_of_what_was_sealed_to_them() -> None:
    adversary = Adversary(colluders={4: make_federation(3).identity(1)})
    adversary.seen = [
        ShareUpload(CTX, 1, (EncryptedShare(1, 4, b""),), DealerCommitments(1, b"", b"", b"")),
        unmasking(2, [1], []),
        unmasking(3, [], [1]),
        unmasking(5, [1], [1]),
    ]
    assert exposed_silos(adversary, honest=[1, 2, 3], threshold=3) == [1]
