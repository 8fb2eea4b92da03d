"""Rules an auditor can check from the config file alone."""

from __future__ import annotations

import re
from collections import Counter
from importlib.metadata import entry_points

from fedsilo.audit.report import RuleResult, Status
from fedsilo.config.model import FederationConfig
from fedsilo.config.schemes import scheme_of
from fedsilo.protocol.registry import scheme_findings
from fedsilo.protocol.scheme import Verdict

FED = "federation"
TASK_PATTERN = re.compile(r"^[a-z0-9][a-z0-9._-]{0,63}$")
MAX_TIMEOUT_SECONDS = 86_400.0
TASK_GROUP = "fedsilo.tasks"


def _ok(rule: str, reason: str) -> RuleResult:
    return RuleResult(rule, FED, Status.PASS, reason)


def _bad(rule: str, reason: str, fix: str, status: Status = Status.FAIL) -> RuleResult:
    return RuleResult(rule, FED, status, reason, fix)


_STATUS = {Verdict.PASS: Status.PASS, Verdict.WARN: Status.WARN, Verdict.FAIL: Status.FAIL}


def scheme_rules(c: FederationConfig) -> list[RuleResult]:
    """The rules of the config's scheme (thresholds, overflow, key sizes...), each
    implemented once by the scheme and read by the nodes too, and whether it runs."""
    return [
        RuleResult(f.rule, FED, _STATUS[f.verdict], f.reason, f.fix)
        for f in scheme_findings(scheme_of(c), c.scheme, c.facts)
    ]


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
    bad = {k: v for k, v in c.timeouts.every if not 0 < v <= MAX_TIMEOUT_SECONDS}
    out = [
        _bad(
            "timeouts.bounded",
            f"timeouts out of (0, {MAX_TIMEOUT_SECONDS:.0f}] s: "
            + ", ".join(f"timeouts.{k} = {v}" for k, v in bad.items()),
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
        *scheme_rules(c),
        *roster_rules(c),
        *operational_rules(c),
        *reset_rules(c),
    ]
