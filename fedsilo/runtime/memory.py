"""Keep the aggregator's memory proportional to its live data.

Chunks stream in and out as 1 MiB buffers on many gRPC worker threads.
glibc raises its mmap threshold after such buffers are freed, and from then
on serves them from per-thread heaps that keep the memory. Resident memory
then grows with the number of concurrent silos instead of staying
O(params). A fixed threshold makes every large buffer an mmap that is
returned to the OS when freed.
"""

from __future__ import annotations

import ctypes
import ctypes.util

M_MMAP_THRESHOLD = -3  # glibc mallopt parameter
LARGE_BUFFER_BYTES = 256 << 10


def return_large_buffers_to_the_os() -> bool:
    """Fix glibc's mmap threshold; returns False where there is no glibc to tune."""
    name = ctypes.util.find_library("c")
    if name is None:
        return False
    try:
        libc = ctypes.CDLL(name)
        return bool(libc.mallopt(M_MMAP_THRESHOLD, LARGE_BUFFER_BYTES))
    except (OSError, AttributeError):
        return False
