"""Every scheme the conformance suites run, and how each is found in the registry."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import pytest

from fedsilo.protocol.registry import runnable, scheme_named
from fedsilo.protocol.scheme import Scheme
from fedsilo.testing.schemes import ENABLE_VARIABLE, ENABLED, registered_test_scheme
from fedsilo.testing.toy_threshold import InsecureThreshold

# every product scheme that runs, and the test kit's insecure one with Paillier's data flow
SCHEMES = (*runnable(), InsecureThreshold.kind)


@contextlib.contextmanager
def scheme_in_registry(kind: str) -> Iterator[Scheme]:
    """The registered scheme ``kind``; the test kit's is registered for the block."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(ENABLE_VARIABLE, ENABLED)
        with contextlib.ExitStack() as stack:
            if kind not in runnable():
                stack.enter_context(registered_test_scheme(InsecureThreshold()))
            yield scheme_named(kind)
