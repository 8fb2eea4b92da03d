from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Context(_message.Message):
    __slots__ = ("federation", "config_digest", "session_id", "round", "stage", "sender", "chain_head")
    FEDERATION_FIELD_NUMBER: _ClassVar[int]
    CONFIG_DIGEST_FIELD_NUMBER: _ClassVar[int]
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    ROUND_FIELD_NUMBER: _ClassVar[int]
    STAGE_FIELD_NUMBER: _ClassVar[int]
    SENDER_FIELD_NUMBER: _ClassVar[int]
    CHAIN_HEAD_FIELD_NUMBER: _ClassVar[int]
    federation: str
    config_digest: bytes
    session_id: bytes
    round: int
    stage: str
    sender: int
    chain_head: bytes
    def __init__(self, federation: _Optional[str] = ..., config_digest: _Optional[bytes] = ..., session_id: _Optional[bytes] = ..., round: _Optional[int] = ..., stage: _Optional[str] = ..., sender: _Optional[int] = ..., chain_head: _Optional[bytes] = ...) -> None: ...

class JoinRequest(_message.Message):
    __slots__ = ("federation", "config_digest", "name")
    FEDERATION_FIELD_NUMBER: _ClassVar[int]
    CONFIG_DIGEST_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    federation: str
    config_digest: bytes
    name: str
    def __init__(self, federation: _Optional[str] = ..., config_digest: _Optional[bytes] = ..., name: _Optional[str] = ...) -> None: ...

class JoinReply(_message.Message):
    __slots__ = ("aggregator_certificate", "silo_certificates", "announcement", "model_layout", "chain_round", "resets")
    AGGREGATOR_CERTIFICATE_FIELD_NUMBER: _ClassVar[int]
    SILO_CERTIFICATES_FIELD_NUMBER: _ClassVar[int]
    ANNOUNCEMENT_FIELD_NUMBER: _ClassVar[int]
    MODEL_LAYOUT_FIELD_NUMBER: _ClassVar[int]
    CHAIN_ROUND_FIELD_NUMBER: _ClassVar[int]
    RESETS_FIELD_NUMBER: _ClassVar[int]
    aggregator_certificate: bytes
    silo_certificates: _containers.RepeatedScalarFieldContainer[bytes]
    announcement: Signed
    model_layout: bytes
    chain_round: int
    resets: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, aggregator_certificate: _Optional[bytes] = ..., silo_certificates: _Optional[_Iterable[bytes]] = ..., announcement: _Optional[_Union[Signed, _Mapping]] = ..., model_layout: _Optional[bytes] = ..., chain_round: _Optional[int] = ..., resets: _Optional[_Iterable[str]] = ...) -> None: ...

class SessionAnnouncement(_message.Message):
    __slots__ = ("context", "vector_length", "modulus_bits", "nonce")
    CONTEXT_FIELD_NUMBER: _ClassVar[int]
    VECTOR_LENGTH_FIELD_NUMBER: _ClassVar[int]
    MODULUS_BITS_FIELD_NUMBER: _ClassVar[int]
    NONCE_FIELD_NUMBER: _ClassVar[int]
    context: Context
    vector_length: int
    modulus_bits: int
    nonce: bytes
    def __init__(self, context: _Optional[_Union[Context, _Mapping]] = ..., vector_length: _Optional[int] = ..., modulus_bits: _Optional[int] = ..., nonce: _Optional[bytes] = ...) -> None: ...

class Signed(_message.Message):
    __slots__ = ("body", "signature", "kind", "stage")
    BODY_FIELD_NUMBER: _ClassVar[int]
    SIGNATURE_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    STAGE_FIELD_NUMBER: _ClassVar[int]
    body: bytes
    signature: bytes
    kind: str
    stage: str
    def __init__(self, body: _Optional[bytes] = ..., signature: _Optional[bytes] = ..., kind: _Optional[str] = ..., stage: _Optional[str] = ...) -> None: ...

class KeyAdvert(_message.Message):
    __slots__ = ("context", "cipher_public_key", "mask_public_key", "signature", "seed_commitment")
    CONTEXT_FIELD_NUMBER: _ClassVar[int]
    CIPHER_PUBLIC_KEY_FIELD_NUMBER: _ClassVar[int]
    MASK_PUBLIC_KEY_FIELD_NUMBER: _ClassVar[int]
    SIGNATURE_FIELD_NUMBER: _ClassVar[int]
    SEED_COMMITMENT_FIELD_NUMBER: _ClassVar[int]
    context: Context
    cipher_public_key: bytes
    mask_public_key: bytes
    signature: bytes
    seed_commitment: bytes
    def __init__(self, context: _Optional[_Union[Context, _Mapping]] = ..., cipher_public_key: _Optional[bytes] = ..., mask_public_key: _Optional[bytes] = ..., signature: _Optional[bytes] = ..., seed_commitment: _Optional[bytes] = ...) -> None: ...

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
    __slots__ = ("context", "shares", "commitments")
    CONTEXT_FIELD_NUMBER: _ClassVar[int]
    SHARES_FIELD_NUMBER: _ClassVar[int]
    COMMITMENTS_FIELD_NUMBER: _ClassVar[int]
    context: Context
    shares: _containers.RepeatedCompositeFieldContainer[EncryptedShare]
    commitments: DealerCommitments
    def __init__(self, context: _Optional[_Union[Context, _Mapping]] = ..., shares: _Optional[_Iterable[_Union[EncryptedShare, _Mapping]]] = ..., commitments: _Optional[_Union[DealerCommitments, _Mapping]] = ...) -> None: ...

class InputCommitment(_message.Message):
    __slots__ = ("context", "total_length", "digest", "root", "signature")
    CONTEXT_FIELD_NUMBER: _ClassVar[int]
    TOTAL_LENGTH_FIELD_NUMBER: _ClassVar[int]
    DIGEST_FIELD_NUMBER: _ClassVar[int]
    ROOT_FIELD_NUMBER: _ClassVar[int]
    SIGNATURE_FIELD_NUMBER: _ClassVar[int]
    context: Context
    total_length: int
    digest: bytes
    root: bytes
    signature: bytes
    def __init__(self, context: _Optional[_Union[Context, _Mapping]] = ..., total_length: _Optional[int] = ..., digest: _Optional[bytes] = ..., root: _Optional[bytes] = ..., signature: _Optional[bytes] = ...) -> None: ...

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
    __slots__ = ("context", "signature", "sketch", "spot_leaves")
    CONTEXT_FIELD_NUMBER: _ClassVar[int]
    SIGNATURE_FIELD_NUMBER: _ClassVar[int]
    SKETCH_FIELD_NUMBER: _ClassVar[int]
    SPOT_LEAVES_FIELD_NUMBER: _ClassVar[int]
    context: Context
    signature: bytes
    sketch: _containers.RepeatedScalarFieldContainer[int]
    spot_leaves: _containers.RepeatedCompositeFieldContainer[SpotLeaf]
    def __init__(self, context: _Optional[_Union[Context, _Mapping]] = ..., signature: _Optional[bytes] = ..., sketch: _Optional[_Iterable[int]] = ..., spot_leaves: _Optional[_Iterable[_Union[SpotLeaf, _Mapping]]] = ...) -> None: ...

class RoundAck(_message.Message):
    __slots__ = ("context", "head", "signature")
    CONTEXT_FIELD_NUMBER: _ClassVar[int]
    HEAD_FIELD_NUMBER: _ClassVar[int]
    SIGNATURE_FIELD_NUMBER: _ClassVar[int]
    context: Context
    head: bytes
    signature: bytes
    def __init__(self, context: _Optional[_Union[Context, _Mapping]] = ..., head: _Optional[bytes] = ..., signature: _Optional[bytes] = ...) -> None: ...

class RevealedShare(_message.Message):
    __slots__ = ("owner", "share")
    OWNER_FIELD_NUMBER: _ClassVar[int]
    SHARE_FIELD_NUMBER: _ClassVar[int]
    owner: int
    share: bytes
    def __init__(self, owner: _Optional[int] = ..., share: _Optional[bytes] = ...) -> None: ...

class UnmaskingShares(_message.Message):
    __slots__ = ("context", "self_mask_shares", "mask_key_shares", "signature")
    CONTEXT_FIELD_NUMBER: _ClassVar[int]
    SELF_MASK_SHARES_FIELD_NUMBER: _ClassVar[int]
    MASK_KEY_SHARES_FIELD_NUMBER: _ClassVar[int]
    SIGNATURE_FIELD_NUMBER: _ClassVar[int]
    context: Context
    self_mask_shares: _containers.RepeatedCompositeFieldContainer[RevealedShare]
    mask_key_shares: _containers.RepeatedCompositeFieldContainer[RevealedShare]
    signature: bytes
    def __init__(self, context: _Optional[_Union[Context, _Mapping]] = ..., self_mask_shares: _Optional[_Iterable[_Union[RevealedShare, _Mapping]]] = ..., mask_key_shares: _Optional[_Iterable[_Union[RevealedShare, _Mapping]]] = ..., signature: _Optional[bytes] = ...) -> None: ...

class SiloMessage(_message.Message):
    __slots__ = ("advert", "shares", "consistency", "unmasking", "commitment", "ack", "check")
    ADVERT_FIELD_NUMBER: _ClassVar[int]
    SHARES_FIELD_NUMBER: _ClassVar[int]
    CONSISTENCY_FIELD_NUMBER: _ClassVar[int]
    UNMASKING_FIELD_NUMBER: _ClassVar[int]
    COMMITMENT_FIELD_NUMBER: _ClassVar[int]
    ACK_FIELD_NUMBER: _ClassVar[int]
    CHECK_FIELD_NUMBER: _ClassVar[int]
    advert: KeyAdvert
    shares: ShareUpload
    consistency: ConsistencySignature
    unmasking: UnmaskingShares
    commitment: InputCommitment
    ack: RoundAck
    check: ShareCheck
    def __init__(self, advert: _Optional[_Union[KeyAdvert, _Mapping]] = ..., shares: _Optional[_Union[ShareUpload, _Mapping]] = ..., consistency: _Optional[_Union[ConsistencySignature, _Mapping]] = ..., unmasking: _Optional[_Union[UnmaskingShares, _Mapping]] = ..., commitment: _Optional[_Union[InputCommitment, _Mapping]] = ..., ack: _Optional[_Union[RoundAck, _Mapping]] = ..., check: _Optional[_Union[ShareCheck, _Mapping]] = ...) -> None: ...

class ShareCheck(_message.Message):
    __slots__ = ("context", "accused", "signature")
    CONTEXT_FIELD_NUMBER: _ClassVar[int]
    ACCUSED_FIELD_NUMBER: _ClassVar[int]
    SIGNATURE_FIELD_NUMBER: _ClassVar[int]
    context: Context
    accused: _containers.RepeatedScalarFieldContainer[int]
    signature: bytes
    def __init__(self, context: _Optional[_Union[Context, _Mapping]] = ..., accused: _Optional[_Iterable[int]] = ..., signature: _Optional[bytes] = ...) -> None: ...

class MaskingSet(_message.Message):
    __slots__ = ("context", "senders", "checks")
    CONTEXT_FIELD_NUMBER: _ClassVar[int]
    SENDERS_FIELD_NUMBER: _ClassVar[int]
    CHECKS_FIELD_NUMBER: _ClassVar[int]
    context: Context
    senders: _containers.RepeatedScalarFieldContainer[int]
    checks: _containers.RepeatedCompositeFieldContainer[ShareCheck]
    def __init__(self, context: _Optional[_Union[Context, _Mapping]] = ..., senders: _Optional[_Iterable[int]] = ..., checks: _Optional[_Iterable[_Union[ShareCheck, _Mapping]]] = ...) -> None: ...

class InputChunk(_message.Message):
    __slots__ = ("context", "offset", "total_length", "data")
    CONTEXT_FIELD_NUMBER: _ClassVar[int]
    OFFSET_FIELD_NUMBER: _ClassVar[int]
    TOTAL_LENGTH_FIELD_NUMBER: _ClassVar[int]
    DATA_FIELD_NUMBER: _ClassVar[int]
    context: Context
    offset: int
    total_length: int
    data: bytes
    def __init__(self, context: _Optional[_Union[Context, _Mapping]] = ..., offset: _Optional[int] = ..., total_length: _Optional[int] = ..., data: _Optional[bytes] = ...) -> None: ...

class AdvertList(_message.Message):
    __slots__ = ("context", "adverts")
    CONTEXT_FIELD_NUMBER: _ClassVar[int]
    ADVERTS_FIELD_NUMBER: _ClassVar[int]
    context: Context
    adverts: _containers.RepeatedCompositeFieldContainer[KeyAdvert]
    def __init__(self, context: _Optional[_Union[Context, _Mapping]] = ..., adverts: _Optional[_Iterable[_Union[KeyAdvert, _Mapping]]] = ...) -> None: ...

class ShareRelay(_message.Message):
    __slots__ = ("context", "recipient", "senders", "shares", "commitments")
    CONTEXT_FIELD_NUMBER: _ClassVar[int]
    RECIPIENT_FIELD_NUMBER: _ClassVar[int]
    SENDERS_FIELD_NUMBER: _ClassVar[int]
    SHARES_FIELD_NUMBER: _ClassVar[int]
    COMMITMENTS_FIELD_NUMBER: _ClassVar[int]
    context: Context
    recipient: int
    senders: _containers.RepeatedScalarFieldContainer[int]
    shares: _containers.RepeatedCompositeFieldContainer[EncryptedShare]
    commitments: _containers.RepeatedCompositeFieldContainer[DealerCommitments]
    def __init__(self, context: _Optional[_Union[Context, _Mapping]] = ..., recipient: _Optional[int] = ..., senders: _Optional[_Iterable[int]] = ..., shares: _Optional[_Iterable[_Union[EncryptedShare, _Mapping]]] = ..., commitments: _Optional[_Iterable[_Union[DealerCommitments, _Mapping]]] = ...) -> None: ...

class SurvivorList(_message.Message):
    __slots__ = ("context", "survivors", "dropped", "commitments", "sum_digest")
    CONTEXT_FIELD_NUMBER: _ClassVar[int]
    SURVIVORS_FIELD_NUMBER: _ClassVar[int]
    DROPPED_FIELD_NUMBER: _ClassVar[int]
    COMMITMENTS_FIELD_NUMBER: _ClassVar[int]
    SUM_DIGEST_FIELD_NUMBER: _ClassVar[int]
    context: Context
    survivors: _containers.RepeatedScalarFieldContainer[int]
    dropped: _containers.RepeatedScalarFieldContainer[int]
    commitments: _containers.RepeatedCompositeFieldContainer[InputCommitment]
    sum_digest: bytes
    def __init__(self, context: _Optional[_Union[Context, _Mapping]] = ..., survivors: _Optional[_Iterable[int]] = ..., dropped: _Optional[_Iterable[int]] = ..., commitments: _Optional[_Iterable[_Union[InputCommitment, _Mapping]]] = ..., sum_digest: _Optional[bytes] = ...) -> None: ...

class RevealedSecret(_message.Message):
    __slots__ = ("owner", "secret")
    OWNER_FIELD_NUMBER: _ClassVar[int]
    SECRET_FIELD_NUMBER: _ClassVar[int]
    owner: int
    secret: bytes
    def __init__(self, owner: _Optional[int] = ..., secret: _Optional[bytes] = ...) -> None: ...

class ReleaseBundle(_message.Message):
    __slots__ = ("context", "self_seeds", "mask_keys", "sum_count")
    CONTEXT_FIELD_NUMBER: _ClassVar[int]
    SELF_SEEDS_FIELD_NUMBER: _ClassVar[int]
    MASK_KEYS_FIELD_NUMBER: _ClassVar[int]
    SUM_COUNT_FIELD_NUMBER: _ClassVar[int]
    context: Context
    self_seeds: _containers.RepeatedCompositeFieldContainer[RevealedSecret]
    mask_keys: _containers.RepeatedCompositeFieldContainer[RevealedSecret]
    sum_count: int
    def __init__(self, context: _Optional[_Union[Context, _Mapping]] = ..., self_seeds: _Optional[_Iterable[_Union[RevealedSecret, _Mapping]]] = ..., mask_keys: _Optional[_Iterable[_Union[RevealedSecret, _Mapping]]] = ..., sum_count: _Optional[int] = ...) -> None: ...

class SignatureBundle(_message.Message):
    __slots__ = ("context", "survivors", "dropped", "signatures")
    CONTEXT_FIELD_NUMBER: _ClassVar[int]
    SURVIVORS_FIELD_NUMBER: _ClassVar[int]
    DROPPED_FIELD_NUMBER: _ClassVar[int]
    SIGNATURES_FIELD_NUMBER: _ClassVar[int]
    context: Context
    survivors: _containers.RepeatedScalarFieldContainer[int]
    dropped: _containers.RepeatedScalarFieldContainer[int]
    signatures: _containers.RepeatedCompositeFieldContainer[ConsistencySignature]
    def __init__(self, context: _Optional[_Union[Context, _Mapping]] = ..., survivors: _Optional[_Iterable[int]] = ..., dropped: _Optional[_Iterable[int]] = ..., signatures: _Optional[_Iterable[_Union[ConsistencySignature, _Mapping]]] = ...) -> None: ...

class RoundOutcome(_message.Message):
    __slots__ = ("context", "released", "survivors", "reason")
    CONTEXT_FIELD_NUMBER: _ClassVar[int]
    RELEASED_FIELD_NUMBER: _ClassVar[int]
    SURVIVORS_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    context: Context
    released: bool
    survivors: _containers.RepeatedScalarFieldContainer[int]
    reason: str
    def __init__(self, context: _Optional[_Union[Context, _Mapping]] = ..., released: _Optional[bool] = ..., survivors: _Optional[_Iterable[int]] = ..., reason: _Optional[str] = ...) -> None: ...

class RoundEvidence(_message.Message):
    __slots__ = ("context", "adverts", "survivors", "bundle", "release", "acks")
    CONTEXT_FIELD_NUMBER: _ClassVar[int]
    ADVERTS_FIELD_NUMBER: _ClassVar[int]
    SURVIVORS_FIELD_NUMBER: _ClassVar[int]
    BUNDLE_FIELD_NUMBER: _ClassVar[int]
    RELEASE_FIELD_NUMBER: _ClassVar[int]
    ACKS_FIELD_NUMBER: _ClassVar[int]
    context: Context
    adverts: AdvertList
    survivors: SurvivorList
    bundle: SignatureBundle
    release: ReleaseBundle
    acks: _containers.RepeatedCompositeFieldContainer[RoundAck]
    def __init__(self, context: _Optional[_Union[Context, _Mapping]] = ..., adverts: _Optional[_Union[AdvertList, _Mapping]] = ..., survivors: _Optional[_Union[SurvivorList, _Mapping]] = ..., bundle: _Optional[_Union[SignatureBundle, _Mapping]] = ..., release: _Optional[_Union[ReleaseBundle, _Mapping]] = ..., acks: _Optional[_Iterable[_Union[RoundAck, _Mapping]]] = ...) -> None: ...

class AggregatorMessage(_message.Message):
    __slots__ = ("recipient", "adverts", "relay", "survivors", "bundle", "outcome", "release", "evidence", "masking")
    RECIPIENT_FIELD_NUMBER: _ClassVar[int]
    ADVERTS_FIELD_NUMBER: _ClassVar[int]
    RELAY_FIELD_NUMBER: _ClassVar[int]
    SURVIVORS_FIELD_NUMBER: _ClassVar[int]
    BUNDLE_FIELD_NUMBER: _ClassVar[int]
    OUTCOME_FIELD_NUMBER: _ClassVar[int]
    RELEASE_FIELD_NUMBER: _ClassVar[int]
    EVIDENCE_FIELD_NUMBER: _ClassVar[int]
    MASKING_FIELD_NUMBER: _ClassVar[int]
    recipient: int
    adverts: AdvertList
    relay: ShareRelay
    survivors: SurvivorList
    bundle: SignatureBundle
    outcome: RoundOutcome
    release: ReleaseBundle
    evidence: RoundEvidence
    masking: MaskingSet
    def __init__(self, recipient: _Optional[int] = ..., adverts: _Optional[_Union[AdvertList, _Mapping]] = ..., relay: _Optional[_Union[ShareRelay, _Mapping]] = ..., survivors: _Optional[_Union[SurvivorList, _Mapping]] = ..., bundle: _Optional[_Union[SignatureBundle, _Mapping]] = ..., outcome: _Optional[_Union[RoundOutcome, _Mapping]] = ..., release: _Optional[_Union[ReleaseBundle, _Mapping]] = ..., evidence: _Optional[_Union[RoundEvidence, _Mapping]] = ..., masking: _Optional[_Union[MaskingSet, _Mapping]] = ...) -> None: ...

class AwaitRequest(_message.Message):
    __slots__ = ("context",)
    CONTEXT_FIELD_NUMBER: _ClassVar[int]
    context: Context
    def __init__(self, context: _Optional[_Union[Context, _Mapping]] = ...) -> None: ...

class ResultRequest(_message.Message):
    __slots__ = ("context",)
    CONTEXT_FIELD_NUMBER: _ClassVar[int]
    context: Context
    def __init__(self, context: _Optional[_Union[Context, _Mapping]] = ...) -> None: ...

class ResultChunk(_message.Message):
    __slots__ = ("offset", "total_length", "data")
    OFFSET_FIELD_NUMBER: _ClassVar[int]
    TOTAL_LENGTH_FIELD_NUMBER: _ClassVar[int]
    DATA_FIELD_NUMBER: _ClassVar[int]
    offset: int
    total_length: int
    data: bytes
    def __init__(self, offset: _Optional[int] = ..., total_length: _Optional[int] = ..., data: _Optional[bytes] = ...) -> None: ...

class Ack(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...
