"""The closed registry of protection schemes.

Product code knows exactly the schemes listed in :data:`PRODUCT_SCHEMES`; a config
naming any other ``scheme.kind`` is refused when it loads. The only other way in
is :func:`fedsilo.testing.schemes.register_test_scheme`, which refuses unless the
test kit was explicitly enabled in that process, so a test-only (insecure) scheme
can never be switched on by a config file.
"""

from __future__ import annotations

from types import MappingProxyType

from fedsilo.errors import ConfigError
from fedsilo.protocol.masking.scheme import MASKING
from fedsilo.protocol.paillier.scheme import Paillier
from fedsilo.protocol.scheme import FederationFacts, Finding, Scheme, fails, passes

PRODUCT_SCHEMES: MappingProxyType[str, Scheme] = MappingProxyType(
    {s.kind: s for s in (MASKING, Paillier())}
)
_admitted: dict[str, Scheme] = {}


def registered() -> tuple[str, ...]:
    """Every scheme name a config may use here, product schemes first."""
    return (*PRODUCT_SCHEMES, *(k for k in _admitted if k not in PRODUCT_SCHEMES))


def runnable() -> tuple[str, ...]:
    """Every registered scheme a node here runs (``--scheme`` of the demo and the bench)."""
    return tuple(k for k in registered() if scheme_named(k).runnable)


def scheme_named(kind: object) -> Scheme:
    """The registered scheme called ``kind``; :class:`ConfigError` names the choices."""
    if isinstance(kind, str):
        found = PRODUCT_SCHEMES.get(kind) or _admitted.get(kind)
        if found is not None:
            return found
    raise ConfigError(f"must be one of {', '.join(registered())}, got {kind!r}")


def runnable_finding(scheme: Scheme) -> Finding:
    """Whether a node of this version runs ``scheme`` at all."""
    if scheme.runnable:
        return passes("scheme.runnable", f"the {scheme.kind} scheme runs on every node")
    return fails(
        "scheme.runnable",
        f"this version of fedsilo has no {scheme.kind} sessions yet: every node refuses "
        "to run this federation",
        "use scheme.kind: masking, or a fedsilo release that runs this scheme",
    )


def scheme_findings(scheme: Scheme, config: object, facts: FederationFacts) -> list[Finding]:
    """Every rule of ``scheme`` on its section ``config``, and whether it runs."""
    return [runnable_finding(scheme), *scheme.rules(config, facts)]


def _admit(scheme: Scheme) -> None:
    """Add a scheme that is not a product scheme (the test kit's only way in)."""
    if scheme.kind in PRODUCT_SCHEMES:
        raise ConfigError(f"{scheme.kind!r} is a product scheme; a test scheme needs its own name")
    _admitted[scheme.kind] = scheme


def _withdraw(kind: str) -> None:
    _admitted.pop(kind, None)
