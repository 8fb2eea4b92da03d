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
2. It reveals nothing until ``t`` silos have signed the same survivor lists
   and the same global-model hash it signed (``2t > n + n_C`` then implies
   that at most one set of lists can ever gather ``t`` signatures).
3. It signs one survivor view and unmasks at most once per (round, model
   hash), recorded in its ledger before the message leaves.
4. Every relayed advert and signature verifies against the pinned roster
   key of its claimed sender, for this very session context.
"""

from fedsilo.protocol.masking.aggregator import MaskingAggregator
from fedsilo.protocol.masking.ledger import InMemoryUnmaskLedger, SignedView, UnmaskLedger
from fedsilo.protocol.masking.params import MaskingParams, check_thresholds, default_threshold
from fedsilo.protocol.masking.silo import MaskingSilo

__all__ = [
    "InMemoryUnmaskLedger",
    "MaskingAggregator",
    "MaskingParams",
    "MaskingSilo",
    "SignedView",
    "UnmaskLedger",
    "check_thresholds",
    "default_threshold",
]
