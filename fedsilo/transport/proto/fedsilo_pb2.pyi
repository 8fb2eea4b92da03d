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
    __slots__ = ("aggregator_certificate", "silo_certificates", "model_layout", "chain_round", "resets")
    AGGREGATOR_CERTIFICATE_FIELD_NUMBER: _ClassVar[int]
    SILO_CERTIFICATES_FIELD_NUMBER: _ClassVar[int]
    MODEL_LAYOUT_FIELD_NUMBER: _ClassVar[int]
    CHAIN_ROUND_FIELD_NUMBER: _ClassVar[int]
    RESETS_FIELD_NUMBER: _ClassVar[int]
    aggregator_certificate: bytes
    silo_certificates: _containers.RepeatedScalarFieldContainer[bytes]
    model_layout: bytes
    chain_round: int
    resets: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, aggregator_certificate: _Optional[bytes] = ..., silo_certificates: _Optional[_Iterable[bytes]] = ..., model_layout: _Optional[bytes] = ..., chain_round: _Optional[int] = ..., resets: _Optional[_Iterable[str]] = ...) -> None: ...

class SessionAnnouncement(_message.Message):
    __slots__ = ("context", "vector_length", "nonce", "scheme_params")
    CONTEXT_FIELD_NUMBER: _ClassVar[int]
    VECTOR_LENGTH_FIELD_NUMBER: _ClassVar[int]
    NONCE_FIELD_NUMBER: _ClassVar[int]
    SCHEME_PARAMS_FIELD_NUMBER: _ClassVar[int]
    context: Context
    vector_length: int
    nonce: bytes
    scheme_params: bytes
    def __init__(self, context: _Optional[_Union[Context, _Mapping]] = ..., vector_length: _Optional[int] = ..., nonce: _Optional[bytes] = ..., scheme_params: _Optional[bytes] = ...) -> None: ...

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

class SiloMessage(_message.Message):
    __slots__ = ("context", "body")
    CONTEXT_FIELD_NUMBER: _ClassVar[int]
    BODY_FIELD_NUMBER: _ClassVar[int]
    context: Context
    body: bytes
    def __init__(self, context: _Optional[_Union[Context, _Mapping]] = ..., body: _Optional[bytes] = ...) -> None: ...

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

class AggregatorMessage(_message.Message):
    __slots__ = ("recipient", "context", "body", "outcome", "evidence")
    RECIPIENT_FIELD_NUMBER: _ClassVar[int]
    CONTEXT_FIELD_NUMBER: _ClassVar[int]
    BODY_FIELD_NUMBER: _ClassVar[int]
    OUTCOME_FIELD_NUMBER: _ClassVar[int]
    EVIDENCE_FIELD_NUMBER: _ClassVar[int]
    recipient: int
    context: Context
    body: bytes
    outcome: RoundOutcome
    evidence: bytes
    def __init__(self, recipient: _Optional[int] = ..., context: _Optional[_Union[Context, _Mapping]] = ..., body: _Optional[bytes] = ..., outcome: _Optional[_Union[RoundOutcome, _Mapping]] = ..., evidence: _Optional[bytes] = ...) -> None: ...

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
