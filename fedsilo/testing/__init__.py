"""Public test kit: seeded entropy, an in-memory federation and a scriptable adversary.

Nothing here is used by a production code path; the kit lets tests (ours and
an institution's) run whole aggregations deterministically in one process.
"""
