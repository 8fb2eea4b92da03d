"""Active-adversary secure aggregation by pairwise masking (Bonawitz et al., CCS 2017).

Theory of operation
-------------------
Each silo ``u`` adds to its quantized input ``x_u`` a self mask ``PRG(b_u)``
and, for every other silo ``v`` that shared keys, a pairwise mask
``±PRG(s_uv)`` that cancels with ``v``'s. The aggregator sums the masked
vectors as they arrive. To remove the masks that did not cancel, it asks
the surviving silos for Shamir shares: of ``b_u`` for each survivor ``u``
and of the mask key ``s_v^SK`` for each silo ``v`` that dropped after
sharing keys. What remains is the sum of the survivors' inputs.

Invariants an honest silo keeps (each enforced in :mod:`.silo`):

1. It reveals, for any peer, either the self-mask share or the mask-key
   share, never both: survivor and dropped lists must be disjoint and cover
   exactly the silos that shared keys.
2. It reveals nothing until every survivor has signed the same survivor
   lists, input commitments and sum digest it signed, at least ``t`` of them
   (``2t > n + n_C`` then implies that at most one view per round can ever
   gather ``t`` signatures).
3. It takes part only in the next round on its own chain head
   (:mod:`fedsilo.protocol.chain`), signs one view per session and reveals
   unmasking shares in at most one session per round, ever, each recorded in
   its :class:`~fedsilo.protocol.ledger.RoundLedger` before the message leaves.
4. Every relayed advert, commitment and signature verifies against the pinned
   roster key of its claimed sender, for this very session context (which
   carries the chain head ``H_{r-1}``).
5. It derives the next model only from an aggregate it computed itself from
   a verified release (:mod:`.release`).
"""

from fedsilo.protocol.masking.aggregator import MaskingAggregator
from fedsilo.protocol.masking.params import MaskingParams, check_thresholds
from fedsilo.protocol.masking.silo import MaskingSilo
from fedsilo.protocol.thresholds import default_threshold

__all__ = [
    "MaskingAggregator",
    "MaskingParams",
    "MaskingSilo",
    "check_thresholds",
    "default_threshold",
]
