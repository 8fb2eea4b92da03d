from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class KeyAdvert(_message.Message):
    __slots__ = ("sender", "cipher_public_key", "mask_public_key", "signature", "seed_commitment")
    SENDER_FIELD_NUMBER: _ClassVar[int]
    CIPHER_PUBLIC_KEY_FIELD_NUMBER: _ClassVar[int]
    MASK_PUBLIC_KEY_FIELD_NUMBER: _ClassVar[int]
    SIGNATURE_FIELD_NUMBER: _ClassVar[int]
    SEED_COMMITMENT_FIELD_NUMBER: _ClassVar[int]
    sender: int
    cipher_public_key: bytes
    mask_public_key: bytes
    signature: bytes
    seed_commitment: bytes
    def __init__(self, sender: _Optional[int] = ..., cipher_public_key: _Optional[bytes] = ..., mask_public_key: _Optional[bytes] = ..., signature: _Optional[bytes] = ..., seed_commitment: _Optional[bytes] = ...) -> None: ...

class EncryptedShare(_message.Message):
    __slots__ = ("sender", "recipient", "sealed")
    SENDER_FIELD_NUMBER: _ClassVar[int]
    RECIPIENT_FIELD_NUMBER: _ClassVar[int]
    SEALED_FIELD_NUMBER: _ClassVar[int]
    sender: int
    recipient: int
    sealed: bytes
    def __init__(self, sender: _Optional[int] = ..., recipient: _Optional[int] = ..., sealed: _Optional[bytes] = ...) -> None: ...

class DealerCommitments(_message.Message):
    __slots__ = ("sender", "self_seed", "mask_seed", "signature")
    SENDER_FIELD_NUMBER: _ClassVar[int]
    SELF_SEED_FIELD_NUMBER: _ClassVar[int]
    MASK_SEED_FIELD_NUMBER: _ClassVar[int]
    SIGNATURE_FIELD_NUMBER: _ClassVar[int]
    sender: int
    self_seed: bytes
    mask_seed: bytes
    signature: bytes
    def __init__(self, sender: _Optional[int] = ..., self_seed: _Optional[bytes] = ..., mask_seed: _Optional[bytes] = ..., signature: _Optional[bytes] = ...) -> None: ...

class ShareUpload(_message.Message):
    __slots__ = ("sender", "shares", "commitments")
    SENDER_FIELD_NUMBER: _ClassVar[int]
    SHARES_FIELD_NUMBER: _ClassVar[int]
    COMMITMENTS_FIELD_NUMBER: _ClassVar[int]
    sender: int
    shares: _containers.RepeatedCompositeFieldContainer[EncryptedShare]
    commitments: DealerCommitments
    def __init__(self, sender: _Optional[int] = ..., shares: _Optional[_Iterable[_Union[EncryptedShare, _Mapping]]] = ..., commitments: _Optional[_Union[DealerCommitments, _Mapping]] = ...) -> None: ...

class ShareCheck(_message.Message):
    __slots__ = ("sender", "accused", "signature")
    SENDER_FIELD_NUMBER: _ClassVar[int]
    ACCUSED_FIELD_NUMBER: _ClassVar[int]
    SIGNATURE_FIELD_NUMBER: _ClassVar[int]
    sender: int
    accused: _containers.RepeatedScalarFieldContainer[int]
    signature: bytes
    def __init__(self, sender: _Optional[int] = ..., accused: _Optional[_Iterable[int]] = ..., signature: _Optional[bytes] = ...) -> None: ...

class InputCommitment(_message.Message):
    __slots__ = ("sender", "total_length", "digest", "root", "signature")
    SENDER_FIELD_NUMBER: _ClassVar[int]
    TOTAL_LENGTH_FIELD_NUMBER: _ClassVar[int]
    DIGEST_FIELD_NUMBER: _ClassVar[int]
    ROOT_FIELD_NUMBER: _ClassVar[int]
    SIGNATURE_FIELD_NUMBER: _ClassVar[int]
    sender: int
    total_length: int
    digest: bytes
    root: bytes
    signature: bytes
    def __init__(self, sender: _Optional[int] = ..., total_length: _Optional[int] = ..., digest: _Optional[bytes] = ..., root: _Optional[bytes] = ..., signature: _Optional[bytes] = ...) -> None: ...

class SpotLeaf(_message.Message):
    __slots__ = ("leaf", "data", "proof")
    LEAF_FIELD_NUMBER: _ClassVar[int]
    DATA_FIELD_NUMBER: _ClassVar[int]
    PROOF_FIELD_NUMBER: _ClassVar[int]
    leaf: int
    data: bytes
    proof: _containers.RepeatedScalarFieldContainer[bytes]
    def __init__(self, leaf: _Optional[int] = ..., data: _Optional[bytes] = ..., proof: _Optional[_Iterable[bytes]] = ...) -> None: ...

class ConsistencySignature(_message.Message):
    __slots__ = ("sender", "signature", "sketch", "spot_leaves")
    SENDER_FIELD_NUMBER: _ClassVar[int]
    SIGNATURE_FIELD_NUMBER: _ClassVar[int]
    SKETCH_FIELD_NUMBER: _ClassVar[int]
    SPOT_LEAVES_FIELD_NUMBER: _ClassVar[int]
    sender: int
    signature: bytes
    sketch: _containers.RepeatedScalarFieldContainer[int]
    spot_leaves: _containers.RepeatedCompositeFieldContainer[SpotLeaf]
    def __init__(self, sender: _Optional[int] = ..., signature: _Optional[bytes] = ..., sketch: _Optional[_Iterable[int]] = ..., spot_leaves: _Optional[_Iterable[_Union[SpotLeaf, _Mapping]]] = ...) -> None: ...

class RoundAck(_message.Message):
    __slots__ = ("sender", "head", "signature")
    SENDER_FIELD_NUMBER: _ClassVar[int]
    HEAD_FIELD_NUMBER: _ClassVar[int]
    SIGNATURE_FIELD_NUMBER: _ClassVar[int]
    sender: int
    head: bytes
    signature: bytes
    def __init__(self, sender: _Optional[int] = ..., head: _Optional[bytes] = ..., signature: _Optional[bytes] = ...) -> None: ...

class RevealedShare(_message.Message):
    __slots__ = ("owner", "share")
    OWNER_FIELD_NUMBER: _ClassVar[int]
    SHARE_FIELD_NUMBER: _ClassVar[int]
    owner: int
    share: bytes
    def __init__(self, owner: _Optional[int] = ..., share: _Optional[bytes] = ...) -> None: ...

class UnmaskingShares(_message.Message):
    __slots__ = ("sender", "self_mask_shares", "mask_key_shares", "signature")
    SENDER_FIELD_NUMBER: _ClassVar[int]
    SELF_MASK_SHARES_FIELD_NUMBER: _ClassVar[int]
    MASK_KEY_SHARES_FIELD_NUMBER: _ClassVar[int]
    SIGNATURE_FIELD_NUMBER: _ClassVar[int]
    sender: int
    self_mask_shares: _containers.RepeatedCompositeFieldContainer[RevealedShare]
    mask_key_shares: _containers.RepeatedCompositeFieldContainer[RevealedShare]
    signature: bytes
    def __init__(self, sender: _Optional[int] = ..., self_mask_shares: _Optional[_Iterable[_Union[RevealedShare, _Mapping]]] = ..., mask_key_shares: _Optional[_Iterable[_Union[RevealedShare, _Mapping]]] = ..., signature: _Optional[bytes] = ...) -> None: ...

class AdvertList(_message.Message):
    __slots__ = ("adverts",)
    ADVERTS_FIELD_NUMBER: _ClassVar[int]
    adverts: _containers.RepeatedCompositeFieldContainer[KeyAdvert]
    def __init__(self, adverts: _Optional[_Iterable[_Union[KeyAdvert, _Mapping]]] = ...) -> None: ...

class ShareRelay(_message.Message):
    __slots__ = ("recipient", "senders", "shares", "commitments")
    RECIPIENT_FIELD_NUMBER: _ClassVar[int]
    SENDERS_FIELD_NUMBER: _ClassVar[int]
    SHARES_FIELD_NUMBER: _ClassVar[int]
    COMMITMENTS_FIELD_NUMBER: _ClassVar[int]
    recipient: int
    senders: _containers.RepeatedScalarFieldContainer[int]
    shares: _containers.RepeatedCompositeFieldContainer[EncryptedShare]
    commitments: _containers.RepeatedCompositeFieldContainer[DealerCommitments]
    def __init__(self, recipient: _Optional[int] = ..., senders: _Optional[_Iterable[int]] = ..., shares: _Optional[_Iterable[_Union[EncryptedShare, _Mapping]]] = ..., commitments: _Optional[_Iterable[_Union[DealerCommitments, _Mapping]]] = ...) -> None: ...

class MaskingSet(_message.Message):
    __slots__ = ("senders", "checks")
    SENDERS_FIELD_NUMBER: _ClassVar[int]
    CHECKS_FIELD_NUMBER: _ClassVar[int]
    senders: _containers.RepeatedScalarFieldContainer[int]
    checks: _containers.RepeatedCompositeFieldContainer[ShareCheck]
    def __init__(self, senders: _Optional[_Iterable[int]] = ..., checks: _Optional[_Iterable[_Union[ShareCheck, _Mapping]]] = ...) -> None: ...

class SurvivorList(_message.Message):
    __slots__ = ("survivors", "dropped", "commitments", "sum_digest")
    SURVIVORS_FIELD_NUMBER: _ClassVar[int]
    DROPPED_FIELD_NUMBER: _ClassVar[int]
    COMMITMENTS_FIELD_NUMBER: _ClassVar[int]
    SUM_DIGEST_FIELD_NUMBER: _ClassVar[int]
    survivors: _containers.RepeatedScalarFieldContainer[int]
    dropped: _containers.RepeatedScalarFieldContainer[int]
    commitments: _containers.RepeatedCompositeFieldContainer[InputCommitment]
    sum_digest: bytes
    def __init__(self, survivors: _Optional[_Iterable[int]] = ..., dropped: _Optional[_Iterable[int]] = ..., commitments: _Optional[_Iterable[_Union[InputCommitment, _Mapping]]] = ..., sum_digest: _Optional[bytes] = ...) -> None: ...

class SignatureBundle(_message.Message):
    __slots__ = ("survivors", "dropped", "signatures")
    SURVIVORS_FIELD_NUMBER: _ClassVar[int]
    DROPPED_FIELD_NUMBER: _ClassVar[int]
    SIGNATURES_FIELD_NUMBER: _ClassVar[int]
    survivors: _containers.RepeatedScalarFieldContainer[int]
    dropped: _containers.RepeatedScalarFieldContainer[int]
    signatures: _containers.RepeatedCompositeFieldContainer[ConsistencySignature]
    def __init__(self, survivors: _Optional[_Iterable[int]] = ..., dropped: _Optional[_Iterable[int]] = ..., signatures: _Optional[_Iterable[_Union[ConsistencySignature, _Mapping]]] = ...) -> None: ...

class RevealedSecret(_message.Message):
    __slots__ = ("owner", "secret")
    OWNER_FIELD_NUMBER: _ClassVar[int]
    SECRET_FIELD_NUMBER: _ClassVar[int]
    owner: int
    secret: bytes
    def __init__(self, owner: _Optional[int] = ..., secret: _Optional[bytes] = ...) -> None: ...

class ReleaseBundle(_message.Message):
    __slots__ = ("self_seeds", "mask_keys", "sum_count")
    SELF_SEEDS_FIELD_NUMBER: _ClassVar[int]
    MASK_KEYS_FIELD_NUMBER: _ClassVar[int]
    SUM_COUNT_FIELD_NUMBER: _ClassVar[int]
    self_seeds: _containers.RepeatedCompositeFieldContainer[RevealedSecret]
    mask_keys: _containers.RepeatedCompositeFieldContainer[RevealedSecret]
    sum_count: int
    def __init__(self, self_seeds: _Optional[_Iterable[_Union[RevealedSecret, _Mapping]]] = ..., mask_keys: _Optional[_Iterable[_Union[RevealedSecret, _Mapping]]] = ..., sum_count: _Optional[int] = ...) -> None: ...

class Session(_message.Message):
    __slots__ = ("federation", "config_digest", "session_id", "round", "chain_head")
    FEDERATION_FIELD_NUMBER: _ClassVar[int]
    CONFIG_DIGEST_FIELD_NUMBER: _ClassVar[int]
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    ROUND_FIELD_NUMBER: _ClassVar[int]
    CHAIN_HEAD_FIELD_NUMBER: _ClassVar[int]
    federation: str
    config_digest: bytes
    session_id: bytes
    round: int
    chain_head: bytes
    def __init__(self, federation: _Optional[str] = ..., config_digest: _Optional[bytes] = ..., session_id: _Optional[bytes] = ..., round: _Optional[int] = ..., chain_head: _Optional[bytes] = ...) -> None: ...

class RoundEvidence(_message.Message):
    __slots__ = ("session", "adverts", "survivors", "bundle", "release", "acks")
    SESSION_FIELD_NUMBER: _ClassVar[int]
    ADVERTS_FIELD_NUMBER: _ClassVar[int]
    SURVIVORS_FIELD_NUMBER: _ClassVar[int]
    BUNDLE_FIELD_NUMBER: _ClassVar[int]
    RELEASE_FIELD_NUMBER: _ClassVar[int]
    ACKS_FIELD_NUMBER: _ClassVar[int]
    session: Session
    adverts: AdvertList
    survivors: SurvivorList
    bundle: SignatureBundle
    release: ReleaseBundle
    acks: _containers.RepeatedCompositeFieldContainer[RoundAck]
    def __init__(self, session: _Optional[_Union[Session, _Mapping]] = ..., adverts: _Optional[_Union[AdvertList, _Mapping]] = ..., survivors: _Optional[_Union[SurvivorList, _Mapping]] = ..., bundle: _Optional[_Union[SignatureBundle, _Mapping]] = ..., release: _Optional[_Union[ReleaseBundle, _Mapping]] = ..., acks: _Optional[_Iterable[_Union[RoundAck, _Mapping]]] = ...) -> None: ...
