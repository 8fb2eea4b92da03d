"""What a masking release is fetched as, and how the fetched bytes join its notice.

A release's message carries only the revealed secrets and how many inputs ``Y``
sums (:class:`~fedsilo.protocol.masking.messages.ReleaseNotice`); ``Y`` and, with
full verification, every survivor's ``y_u`` are downloaded. A survivor in the
session and a silo catching up on a final round size and join them the same way.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from fedsilo.crypto.prg import UIntArray, word_dtype
from fedsilo.crypto.sketch import WideSum
from fedsilo.errors import RemoteProtocolError
from fedsilo.protocol import words
from fedsilo.protocol.masking.messages import ReleaseBundle, ReleaseNotice
from fedsilo.protocol.masking.params import MaskingParams
from fedsilo.protocol.outputs import INPUTS_DOWNLOAD, RESULT_DOWNLOAD, Fetch


def release_fetches(
    params: MaskingParams, survivors: Sequence[int], vector_length: int
) -> list[Fetch]:
    """The downloads of a release over ``survivors``, each of its exact size: ``Y`` as
    32-bit limbs (then one carry byte per limb) and, with full verification, every
    ``y_u`` as words of the modulus."""
    limbs = vector_length * (params.bits // 32)
    wanted = [Fetch(RESULT_DOWNLOAD, WideSum.byte_size(limbs, 32))]
    if params.full_verification:
        word = word_dtype(params.bits).itemsize
        wanted.append(Fetch(INPUTS_DOWNLOAD, len(survivors) * vector_length * word))
    return wanted


def join_release(
    notice: ReleaseNotice,
    downloads: Mapping[str, bytes | bytearray],
    *,
    params: MaskingParams,
    survivors: Sequence[int],
    vector_length: int,
) -> ReleaseBundle:
    """``notice`` joined with what :func:`release_fetches` downloaded (a ``bytearray`` is
    wrapped, not copied); raises if a download is missing or malformed."""
    total = downloads.get(RESULT_DOWNLOAD)
    if total is None:
        raise RemoteProtocolError("the release's sum Y is missing")
    inputs: tuple[tuple[int, UIntArray], ...] = ()
    if params.full_verification:
        data = downloads.get(INPUTS_DOWNLOAD)
        if data is None:
            raise RemoteProtocolError("the release's masked inputs are missing")
        inputs = words.masked_inputs(data, tuple(survivors), vector_length, params.bits)
    limbs = vector_length * (params.bits // 32)
    wide = WideSum.from_bytes(total, limbs, 32, notice.sum_count)
    return ReleaseBundle(notice.context, notice.self_seeds, notice.mask_keys, wide, inputs)
