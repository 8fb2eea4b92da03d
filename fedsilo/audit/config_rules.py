"""Rules an auditor can check from the config file alone."""

from __future__ import annotations

import math
import re
from collections import Counter
from importlib.metadata import entry_points

from fedsilo.audit.report import RuleResult, Status
from fedsilo.config.model import FederationConfig, MaskingScheme, PaillierScheme

FED = "federation"
TASK_PATTERN = re.compile(r"^[a-z0-9][a-z0-9._-]{0,63}$")
MAX_TIMEOUT_SECONDS = 86_400.0
TASK_GROUP = "fedsilo.tasks"


def _ok(rule: str, reason: str) -> RuleResult:
    return RuleResult(rule, FED, Status.PASS, reason)


def _bad(rule: str, reason: str, fix: str, status: Status = Status.FAIL) -> RuleResult:
    return RuleResult(rule, FED, status, reason, fix)


def threshold_rules(c: FederationConfig) -> list[RuleResult]:
    n, t, n_c = len(c.silos), c.scheme.threshold, c.scheme.colluders
    out = [
        _ok("threshold.minimum-silos", f"n = {n} silos")
        if n >= 3
        else _bad(
            "threshold.minimum-silos",
            f"only {n} silos: with fewer than 3, a silo can "
            "subtract its own update from the sum and read the other's",
            "add silos (n >= 3)",
        ),
        _ok("threshold.range", f"t = {t} <= n = {n}")
        if 1 <= t <= n
        else _bad(
            "threshold.range",
            f"t = {t} exceeds the {n} silos: no round can finish",
            f"set scheme.threshold to at most {n}",
        ),
        _ok("threshold.majority", f"2t = {2 * t} > n + n_C = {n + n_c}")
        if 2 * t > n + n_c
        else _bad(
            "threshold.majority",
            f"2t = {2 * t} <= n + n_C = {n + n_c}: the aggregator "
            "can show two groups different survivor lists and unmask one silo",
            f"raise scheme.threshold to at least {(n + n_c) // 2 + 1}",
        ),
        _ok("threshold.survivors", f"t = {t} >= max(3, n_C + 2) = {max(3, n_c + 2)}")
        if t >= max(3, n_c + 2)
        else _bad(
            "threshold.survivors",
            f"t = {t} < max(3, n_C + 2) = {max(3, n_c + 2)}: "
            "too few honest survivors to hide each update in the sum",
            f"raise scheme.threshold to {max(3, n_c + 2)}",
        ),
    ]
    tolerated = n - t
    out.append(
        _ok("threshold.dropouts", f"the round survives {tolerated} dropout(s) (n - t)")
        if tolerated > 0
        else _bad(
            "threshold.dropouts",
            "n - t = 0: a single silo dropping aborts every round",
            "lower the threshold or add silos",
            Status.WARN,
        )
    )
    if t <= c.min_silos <= n:
        out.append(_ok("threshold.min-silos", f"min_silos = {c.min_silos} >= t = {t}"))
    else:
        out.append(
            _bad(
                "threshold.min-silos",
                f"min_silos = {c.min_silos} is outside [t, n] = [{t}, {n}]",
                f"set min_silos between {t} and {n}",
            )
        )
    return out


def quantization_rules(c: FederationConfig) -> list[RuleResult]:
    n, scheme = len(c.silos), c.scheme
    if isinstance(scheme, MaskingScheme):
        levels, bits = scheme.quantization.levels, scheme.modulus_bits
        weights = n * c.training.max_samples
        if weights >= 1 << bits:
            return [
                _bad(
                    "quantization.overflow",
                    f"n x max_samples = {weights} >= 2^{bits}: the summed weight wraps",
                    f"lower training.max_samples below {(1 << bits) // n} or use modulus_bits: 64",
                )
            ]
        if n * levels < 1 << bits:
            return [
                _ok(
                    "quantization.overflow",
                    f"n x levels = {n * levels} and n x max_samples = {weights} < 2^{bits}",
                )
            ]
        return [
            _bad(
                "quantization.overflow",
                f"n x levels = {n * levels} >= 2^{bits}: the sum wraps",
                f"use fewer levels (< {(1 << bits) // n}) or modulus_bits: 64",
            )
        ]
    need = scheme.value_bits + max(1, math.ceil(math.log2(max(n, 2))))
    if scheme.slot_bits < need:
        return [
            _bad(
                "quantization.overflow",
                f"{scheme.slot_bits}-bit slots cannot hold the sum of "
                f"{n} {scheme.value_bits}-bit values",
                f"set scheme.slot_bits to at least {need}",
            )
        ]
    if scheme.slot_bits >= scheme.key_bits:
        return [
            _bad(
                "quantization.overflow",
                "a slot is larger than the Paillier plaintext",
                "lower scheme.slot_bits",
            )
        ]
    return [
        _ok("quantization.overflow", f"{scheme.slot_bits}-bit slots hold the sum of {n} values")
    ]


def paillier_rules(c: FederationConfig) -> list[RuleResult]:
    scheme = c.scheme
    if not isinstance(scheme, PaillierScheme):
        return []
    bits = scheme.key_bits
    if bits >= 3072:
        key = _ok("paillier.key-size", f"{bits}-bit key")
    elif bits >= 2048:
        key = _bad(
            "paillier.key-size",
            f"{bits}-bit key is legacy strength (disallowed after 2030)",
            "use key_bits: 3072",
            Status.WARN,
        )
    else:
        key = _bad("paillier.key-size", f"{bits}-bit key is breakable", "use key_bits: 3072")
    t, n_c = scheme.threshold, scheme.colluders
    if scheme.dealer == c.aggregator.name:
        dec = _bad(
            "paillier.threshold-decryption",
            "the aggregator deals the key, so it can decrypt every update",
            "name a trusted dealer other than the aggregator",
        )
    elif t < 2 or t <= n_c:
        dec = _bad(
            "paillier.threshold-decryption",
            f"decryption threshold {t} lets n_C = {n_c} "
            "colluding silos (with the aggregator) decrypt alone",
            f"raise scheme.threshold above {max(1, n_c)}",
        )
    else:
        dec = _ok(
            "paillier.threshold-decryption",
            f"{t}-of-{len(c.silos)} silos must decrypt "
            f"together; the aggregator holds no share; trusted dealer: {scheme.dealer}",
        )
    return [key, dec]


def roster_rules(c: FederationConfig) -> list[RuleResult]:
    silo_names = [s.name for s in c.silos]
    dupes = sorted(n for n, k in Counter(silo_names).items() if k > 1)
    out = [
        _bad(
            "roster.unique-names",
            f"silo name(s) {', '.join(dupes)} appear more than once",
            "give every silo its own name",
        )
        if dupes
        else _ok("roster.unique-names", f"{len(silo_names)} distinct silo names")
    ]
    silo_fps = {s.fingerprint for s in c.silos if s.fingerprint}
    if c.aggregator.name in silo_names or (c.aggregator.fingerprint in silo_fps):
        out.append(
            _bad(
                "roster.aggregator-not-silo",
                "the aggregator is also on the silo roster",
                "the neutral aggregator must not hold a silo identity",
            )
        )
    else:
        out.append(_ok("roster.aggregator-not-silo", "the aggregator is not a silo"))
    out.append(
        _ok("ca.pinned", f"CA pinned at {c.ca_fingerprint}")
        if c.ca_fingerprint
        else _bad(
            "ca.pinned",
            "no ca_fingerprint: any CA could vouch for members",
            "pin ca_fingerprint (fedsilo certs inspect ca.crt)",
        )
    )
    unpinned = [
        n
        for n, fp in [
            (c.aggregator.name, c.aggregator.fingerprint),
            *((s.name, s.fingerprint) for s in c.silos),
        ]
        if not fp
    ]
    out.append(
        _bad(
            "roster.pinned",
            f"no pinned fingerprint for {', '.join(unpinned)}",
            "pin every member's certificate fingerprint",
        )
        if unpinned
        else _ok("roster.pinned", "every member's certificate fingerprint is pinned")
    )
    return out


def operational_rules(c: FederationConfig) -> list[RuleResult]:
    bad = {k: v for k, v in vars(c.timeouts).items() if not 0 < v <= MAX_TIMEOUT_SECONDS}
    out = [
        _bad(
            "timeouts.bounded",
            f"timeouts out of (0, {MAX_TIMEOUT_SECONDS:.0f}] s: "
            + ", ".join(f"{k} = {v}" for k, v in bad.items()),
            "use positive deadlines up to a day",
        )
        if bad
        else _ok("timeouts.bounded", "every stage deadline is positive and at most a day")
    ]
    out.append(
        _ok("model.layout-pinned", f"model layout pinned at {c.model.layout_sha256}")
        if c.model.layout_sha256
        else _bad(
            "model.layout-pinned",
            "no model.layout_sha256: parties could train different architectures",
            "run `fedsilo config pin-layout CONFIG` (certs provision pins it too)",
        )
    )
    out.append(
        _ok("model.initial-pinned", f"initial model pinned at {c.model.initial_sha256}")
        if c.model.initial_sha256
        else _bad(
            "model.initial-pinned",
            "no model.initial_sha256: the chain of global models has no agreed start, "
            "so silos could start from (and derive) different models",
            "run `fedsilo config pin-layout CONFIG` (certs provision pins it too)",
        )
    )
    task = c.training.task
    if not TASK_PATTERN.match(task):
        out.append(
            _bad(
                "task.name",
                f"task {task!r} is not a task name (a Python path?)",
                "name a task registered in the fedsilo.tasks entry-point group",
            )
        )
    elif task in {ep.name for ep in entry_points(group=TASK_GROUP)}:
        out.append(_ok("task.name", f"task {task!r} is installed"))
    else:
        out.append(
            _bad(
                "task.name",
                f"task {task!r} is well formed but not installed here",
                "install the package that provides it to inspect it",
                Status.WARN,
            )
        )
    return out


def reset_rules(c: FederationConfig) -> list[RuleResult]:
    """How many epoch resets the federation accepts: each is one more differencing sample."""
    k = c.max_resets
    if k == 0:
        return [
            _ok(
                "resets.bounded",
                "max_resets = 0: no epoch reset, so a round that cannot be unmasked "
                "ends the federation",
            )
        ]
    if k == 1:
        return [
            _ok(
                "resets.bounded",
                "max_resets = 1: at most one epoch reset, signed by t silo operators "
                "(it is one more differencing sample)",
            )
        ]
    return [
        _bad(
            "resets.bounded",
            f"max_resets = {k}: up to {k} epoch resets, and each reset is one more "
            "differencing sample (the aggregator may run a failed round again)",
            "set max_resets to 1 (or 0), unless every member accepts the extra samples",
            Status.WARN,
        )
    ]


def config_rules(c: FederationConfig) -> list[RuleResult]:
    return [
        *threshold_rules(c),
        *quantization_rules(c),
        *paillier_rules(c),
        *roster_rules(c),
        *operational_rules(c),
        *reset_rules(c),
    ]
