"""The masking silo behind the seam: typed outputs, the upload served chunk by chunk, the
release joined with what the silo fetched.

:class:`~fedsilo.protocol.masking.silo.MaskingSilo` is the state machine; this session
drives it for the runtime and owns masking's data flow on the silo side:

* its masked vector is an :class:`~fedsilo.protocol.outputs.Upload` the runtime reads
  chunk by chunk (:meth:`vector_chunk`) as the raw little-endian words the wire carries;
* a :class:`~fedsilo.protocol.messages.ReleaseNotice` asks for ``Y`` (and, with full
  release verification, every survivor's ``y_u``) as :class:`~fedsilo.protocol.outputs.
  Fetch` outputs of exact sizes; once both arrived the session verifies the release.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, NoReturn

from fedsilo.errors import (
    ContextMismatchError,
    CryptoError,
    FedsiloError,
    LocalProtocolError,
    PKIError,
    ReleaseVerificationError,
    RemoteProtocolError,
    UnexpectedMessageError,
)
from fedsilo.protocol import words
from fedsilo.protocol.chain import ChainLink
from fedsilo.protocol.masking.downloads import join_release, release_fetches
from fedsilo.protocol.masking.messages import (
    AdvertList,
    MaskedInputStream,
    ReleaseNotice,
    SiloMessage,
    Stage,
)
from fedsilo.protocol.masking.params import MaskingParams
from fedsilo.protocol.masking.silo import MaskingSilo
from fedsilo.protocol.masking.states import SiloState
from fedsilo.protocol.messages import AggregateResult, SessionContext
from fedsilo.protocol.outputs import Upload


class MaskingSiloSession:
    """A silo's masking session as the runtime drives it."""

    def __init__(
        self, core: MaskingSilo, params: MaskingParams, revoked: Mapping[int, str] | None = None
    ) -> None:
        self._core, self._params = core, params
        self._revoked = dict(revoked or {})
        self._masked: MaskedInputStream | None = None
        self._notice: ReleaseNotice | None = None
        self._wanted: set[str] = set()
        self._fetched: dict[str, bytes | bytearray] = {}

    # --- what the runtime reads -------------------------------------------------------

    @property
    def core(self) -> MaskingSilo:
        """The state machine this session drives (read it, never feed it directly)."""
        return self._core

    @property
    def context(self) -> SessionContext:
        return self._core.context

    @property
    def state(self) -> SiloState:
        return self._core.state

    @property
    def resumes_at(self) -> str | None:
        return self._core.resumes_at

    @property
    def survivors(self) -> tuple[int, ...]:
        return self._core.survivors

    @property
    def aggregate(self) -> AggregateResult | None:
        return self._core.aggregate

    @property
    def verified(self) -> bool:
        return self._core.verified

    # --- what the runtime feeds it ----------------------------------------------------

    def start(self) -> list[Any]:
        return self._outputs(self._core.start())

    def pending(self) -> list[Any]:
        return self._outputs(self._core.pending())

    def snapshot(self) -> dict[str, Any]:
        return self._core.snapshot()

    def acknowledge(self, link: ChainLink) -> list[Any]:
        return self._outputs(self._core.acknowledge(link))

    def receive(self, message: Any) -> list[Any]:
        if isinstance(message, AdvertList):
            self._refuse_revoked_signers(message)
        if not isinstance(message, ReleaseNotice):
            return self._outputs(self._core.receive(message))
        if message.context != self._core.context:
            self._refuse(ContextMismatchError("the release belongs to another session"))
        if self._core.state is not SiloState.AWAIT_RELEASE or self._notice is not None:
            self._refuse(
                UnexpectedMessageError(
                    f"ReleaseNotice is not accepted in state {self._core.state.value}"
                    + (" (a release was already announced)" if self._notice else "")
                )
            )
        wanted = release_fetches(self._params, self.survivors, self._vector_length())
        self._notice, self._wanted, self._fetched = message, {f.name for f in wanted}, {}
        return list(wanted)

    def fetched(self, name: str, data: bytes | bytearray) -> list[Any]:
        """What the runtime downloaded for a :class:`~fedsilo.protocol.outputs.Fetch`;
        the release is verified once everything asked for is in. A release that does not
        parse or verify aborts the session with
        :class:`~fedsilo.errors.ReleaseVerificationError`."""
        notice = self._notice
        if notice is None or name not in self._wanted or name in self._fetched:
            raise LocalProtocolError(f"nothing of {name!r} was asked for")
        self._fetched[name] = data  # not copied: Y is as large as the model
        if set(self._fetched) != self._wanted:
            return []
        fetched, self._fetched, self._notice = self._fetched, {}, None
        try:
            bundle = join_release(
                notice,
                fetched,
                params=self._params,
                survivors=self.survivors,
                vector_length=self._vector_length(),
            )
        except (CryptoError, RemoteProtocolError) as exc:
            self._core.refuse(ReleaseVerificationError(f"the released sum does not parse: {exc}"))
        return self._outputs(self._core.receive(bundle))

    def vector_chunk(self, offset: int, count: int) -> bytes:
        """Elements ``offset .. offset + count`` of this silo's masked vector, as sent."""
        if self._masked is None:
            raise LocalProtocolError("this session has no vector to upload yet")
        return words.words_to_bytes(self._masked.masked[offset : offset + count])

    # --- internals --------------------------------------------------------------------

    def _refuse_revoked_signers(self, adverts: AdvertList) -> None:
        """Every later list of a session is a subset of its adverts: a revoked signer found
        here would be a member of every view this silo signs."""
        named = [self._revoked[a.sender] for a in adverts.adverts if a.sender in self._revoked]
        if named:
            ctx = self._core.context
            self._refuse(
                PKIError(
                    f"session {ctx.session_id.hex()[:16]}… of round {ctx.round} includes "
                    f"{', '.join(named)}, whose certificate no longer verifies; this silo "
                    "refuses it"
                )
            )

    def _refuse(self, exc: FedsiloError) -> NoReturn:
        self._notice, self._fetched = None, {}
        self._core.refuse(exc)

    def _vector_length(self) -> int:
        view = self._core.signed_view
        if view is None or not view.commitments:
            raise RemoteProtocolError("a release before this silo signed any survivor view")
        return view.commitments[0].total_length

    def _outputs(self, messages: Sequence[SiloMessage]) -> list[Any]:
        out: list[Any] = []
        for message in messages:
            if isinstance(message, MaskedInputStream):
                self._masked = message
                itemsize = message.masked.dtype.itemsize
                out.append(Upload(Stage.MASKED_INPUT.value, message.total_length, itemsize))
            else:
                out.append(message)
        return out
