from __future__ import annotations

import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from fedsilo.crypto.entropy import SystemEntropy
from fedsilo.crypto.signatures import IdentityKey, VerifyingKey, seal_to
from fedsilo.errors import CryptoError, DecryptionError, SignatureError


def test_signature_verifies_for_the_signed_fields() -> None:
    key = IdentityKey.generate()
    sig = key.sign("fedsilo/v1/test", b"payload", 3)
    key.verifying_key.verify(sig, "fedsilo/v1/test", b"payload", 3)


def test_verification_raises_on_other_fields_label_or_key() -> None:
    key = IdentityKey.generate()
    sig = key.sign("fedsilo/v1/test", b"payload", 3)
    with pytest.raises(SignatureError):
        key.verifying_key.verify(sig, "fedsilo/v1/test", b"payload", 4)
    with pytest.raises(SignatureError):
        key.verifying_key.verify(sig, "fedsilo/v1/other", b"payload", 3)
    with pytest.raises(SignatureError):
        IdentityKey.generate().verifying_key.verify(sig, "fedsilo/v1/test", b"payload", 3)


def test_verify_returns_none_never_a_bool() -> None:
    key = IdentityKey.generate()
    result = key.verifying_key.verify(key.sign("l", b"x"), "l", b"x")  # type: ignore[func-returns-value]
    assert result is None


def test_signing_is_deterministic_so_resends_are_byte_identical() -> None:
    key = IdentityKey.generate()
    assert key.sign("l", b"x") == key.sign("l", b"x")


def test_only_p256_identity_keys_are_accepted() -> None:
    with pytest.raises(CryptoError, match="P-256"):
        IdentityKey(ec.generate_private_key(ec.SECP384R1()))


def test_verifying_key_round_trips_through_der() -> None:
    key = IdentityKey.generate()
    again = VerifyingKey.from_der(key.verifying_key.to_der())
    assert again.fingerprint() == key.verifying_key.fingerprint()
    assert again.fingerprint().startswith("sha256:")


# --- secrets sealed to an identity ---------------------------------------------------------


def test_a_secret_sealed_to_an_identity_opens_with_its_key_under_the_same_label() -> None:
    silo = IdentityKey.generate()
    sealed = seal_to(silo.verifying_key, b"share 3", "fedsilo/test/v1", 3, entropy=SystemEntropy())
    assert silo.open_sealed(sealed, "fedsilo/test/v1", 3) == b"share 3"


def test_a_secret_sealed_to_one_identity_does_not_open_with_another() -> None:
    silo, other = IdentityKey.generate(), IdentityKey.generate()
    sealed = seal_to(silo.verifying_key, b"share 3", "fedsilo/test/v1", 3, entropy=SystemEntropy())
    with pytest.raises(DecryptionError):
        other.open_sealed(sealed, "fedsilo/test/v1", 3)


def test_a_sealed_secret_opens_under_no_other_label_or_fields() -> None:
    silo = IdentityKey.generate()
    sealed = seal_to(silo.verifying_key, b"share 3", "fedsilo/test/v1", 3, entropy=SystemEntropy())
    for label, fields in (("fedsilo/test/v2", (3,)), ("fedsilo/test/v1", (4,))):
        with pytest.raises(DecryptionError):
            silo.open_sealed(sealed, label, *fields)


def test_an_altered_or_truncated_sealed_secret_is_refused() -> None:
    silo = IdentityKey.generate()
    sealed = seal_to(silo.verifying_key, b"share 3", "fedsilo/test/v1", entropy=SystemEntropy())
    for k in (1, 30, 66, len(sealed) - 1):  # the ephemeral point, the nonce, the tag
        altered = bytearray(sealed)
        altered[k] ^= 1
        with pytest.raises(DecryptionError):
            silo.open_sealed(bytes(altered), "fedsilo/test/v1")
    with pytest.raises(DecryptionError):
        silo.open_sealed(sealed[:40], "fedsilo/test/v1")


def test_two_seals_of_the_same_secret_differ() -> None:
    silo = IdentityKey.generate()
    seals = {
        seal_to(silo.verifying_key, b"s", "fedsilo/test/v1", entropy=SystemEntropy())
        for _ in range(2)
    }
    assert len(seals) == 2


class _Stuck:
    """An entropy source that always returns the same bytes (a replayed seed, or worse)."""

    def random_bytes(self, size: int) -> bytes:
        return b"\x00" * size


def test_a_replayed_entropy_stream_never_reuses_a_sealing_key_for_another_plaintext() -> None:
    silo = IdentityKey.generate()
    first = seal_to(silo.verifying_key, b"share one", "fedsilo/test/v1", entropy=_Stuck())
    second = seal_to(silo.verifying_key, b"share two", "fedsilo/test/v1", entropy=_Stuck())
    assert first[1:66] != second[1:66]  # another ephemeral key, so another key stream
    assert silo.open_sealed(second, "fedsilo/test/v1") == b"share two"
