"""The only way into the scheme registry besides the product schemes.

A test registers a scheme of its own (an insecure one, say, to drive the runtime
through another scheme's data flow) with :func:`register_test_scheme`. It is refused
unless this process enabled the test kit explicitly (``FEDSILO_TEST_KIT=enabled`` in
its environment), so no config file and no product code path can switch a test
scheme on.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator

from fedsilo.errors import ConfigError
from fedsilo.protocol import registry
from fedsilo.protocol.scheme import Scheme

ENABLE_VARIABLE = "FEDSILO_TEST_KIT"
ENABLED = "enabled"


def test_kit_enabled() -> bool:
    return os.environ.get(ENABLE_VARIABLE) == ENABLED


def register_test_scheme(scheme: Scheme) -> None:
    """Make ``scheme`` a registered scheme in this process; refused unless the test kit
    is enabled here, and for the name of a product scheme."""
    if not test_kit_enabled():
        raise ConfigError(
            f"test schemes can be registered only with the test kit enabled "
            f"({ENABLE_VARIABLE}={ENABLED}); refusing {scheme.kind!r}"
        )
    registry._admit(scheme)  # the registry's one other door


def unregister_test_scheme(kind: str) -> None:
    registry._withdraw(kind)


@contextlib.contextmanager
def registered_test_scheme(scheme: Scheme) -> Iterator[Scheme]:
    """``scheme`` registered for the duration of a ``with`` block."""
    register_test_scheme(scheme)
    try:
        yield scheme
    finally:
        unregister_test_scheme(scheme.kind)
