from __future__ import annotations

import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from fedsilo.crypto.signatures import IdentityKey, VerifyingKey
from fedsilo.errors import CryptoError, SignatureError


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
