"""What a silo keeps when a release does not verify: evidence against the aggregator.

When a silo refuses a release (:class:`~fedsilo.errors.ReleaseVerificationError`:
a sum that is not the sum of what the survivors signed), the round aborts
naming the aggregator, and the silo writes, before it exits,
``STATE_DIR/disputes/round-NNNNNN-<session>/``:

* ``<stage>.signed`` for each stage of the session whose message arrived (masking:
  ``share-keys``, ``share-check``, ``masked-input``, ``consistency-check``,
  ``unmasking``, ``release``): the aggregator's message exactly as it signed it
  (``Signed`` protobufs: the body and the aggregator's signature over it);
* ``<download>.bin`` for each download of the session the silo had fetched:
  ``sum.bin``, the sum ``Y`` it served (the ``result``); ``inputs.bin``, every
  survivor's masked vector, in full verification mode;
* ``reason.txt``: the silo's one-line error.

The messages carry the silos' own signatures too (with masking: adverts, input
commitments, consistency signatures over ``H(Y)``), so anyone holding the
config and the certificates can re-run the silo's check with
:func:`check_dispute` and see the same refusal, under the aggregator's
signature: the aggregator cannot claim the silo made it up. A session
resumed after a crash has only the messages received since the restart; its
dispute lists what it has.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from fedsilo.crypto.signatures import VerifyingKey
from fedsilo.errors import ConfigError
from fedsilo.protocol.chain import ChainHead
from fedsilo.protocol.messages import SessionContext
from fedsilo.protocol.outputs import RESULT_DOWNLOAD
from fedsilo.protocol.roster import Roster
from fedsilo.protocol.scheme import Scheme
from fedsilo.runtime.state import write_atomically
from fedsilo.transport import codec
from fedsilo.transport.calls import SignedEnvelope


def _download_file(name: str) -> str:
    """The file of download ``name`` in a dispute (the sum keeps its name: ``sum.bin``)."""
    return f"{'sum' if name == RESULT_DOWNLOAD else name}.bin"


class DisputeStore:
    """``STATE_DIR/disputes``: one directory per refused release."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def keep(
        self,
        ctx: SessionContext,
        signed: Mapping[str, SignedEnvelope],
        downloads: Mapping[str, bytes | bytearray],
        reason: str,
    ) -> Path:
        """Write the evidence of a refused release; returns its directory."""
        where = self.directory / f"round-{ctx.round:06d}-{ctx.session_id.hex()[:16]}"
        where.mkdir(parents=True, exist_ok=True)
        for part, message in signed.items():
            write_atomically(where / f"{part}.signed", message)
        for name, data in downloads.items():
            write_atomically(where / _download_file(name), data)
        write_atomically(where / "reason.txt", (reason + "\n").encode())
        return where


def check_dispute(
    where: Path,
    *,
    aggregator_key: VerifyingKey,
    roster: Roster,
    scheme: Scheme,
    params: Any,
    federation: str,
    config_digest: bytes,
    vector_length: int,
) -> None:
    """Re-run the refused check on a dispute directory; raises what the silo raised (a
    :class:`~fedsilo.errors.ReleaseVerificationError` for a forged sum) and returns only if
    the release verifies after all. ``params`` are ``scheme``'s, for ``vector_length``."""
    messages: dict[str, Any] = {}
    ctx: SessionContext | None = None
    for stage in scheme.stage_names:
        path = where / f"{stage}.signed"
        if not path.is_file():
            continue
        message = codec.open_message(aggregator_key, path.read_bytes(), (stage,))
        ctx = ctx or message.context.session  # the first names the session
        body = codec.session_body(ctx, stage, message)
        messages[stage] = scheme.wire.aggregator_message(ctx, stage, body)
    if ctx is None:
        raise ConfigError(f"{where} holds no signed message: the dispute cannot be checked")
    downloads = {
        name: path.read_bytes()
        for name in scheme.downloads
        if (path := where / _download_file(name)).is_file()
    }
    evidence = scheme.wire.dispute_evidence(ctx, messages)
    scheme.verify_evidence(
        params,
        evidence,
        downloads,
        roster=roster,
        federation=federation,
        config_digest=config_digest,
        chain=ChainHead(ctx.round - 1, ctx.chain_head),
        vector_length=vector_length,
    )


__all__ = ["DisputeStore", "check_dispute"]
