"""The verdict of an audit: one result per rule, an overall verdict, an exit code.

Exit codes: 0 safe (warnings allowed), 1 unsafe (any rule failed), 2 unusable
input (raised as an error before a report exists), 3 incomplete (nothing
failed, but some rule could not be checked).
"""

from __future__ import annotations

import enum
import json
from dataclasses import dataclass

REPORT_FORMAT = "fedsilo-audit/v1"


class Status(enum.Enum):
    PASS = "pass"  # noqa: S105 - a verdict, not a password
    WARN = "warn"
    FAIL = "fail"
    NOT_CHECKED = "not-checked"


@dataclass(frozen=True)
class RuleResult:
    """The verdict of one rule on one subject (the federation, or one member)."""

    rule: str
    subject: str
    status: Status
    reason: str
    fix: str = ""


@dataclass(frozen=True)
class AuditReport:
    config: str
    federation: str
    digest: str
    results: tuple[RuleResult, ...]

    def count(self, status: Status) -> int:
        return sum(1 for r in self.results if r.status is status)

    @property
    def verdict(self) -> str:
        if self.count(Status.FAIL):
            return "unsafe"
        if self.count(Status.NOT_CHECKED):
            return "incomplete"
        return "safe"

    @property
    def exit_code(self) -> int:
        return {"safe": 0, "unsafe": 1, "incomplete": 3}[self.verdict]

    def failed_rules(self) -> set[str]:
        return {r.rule for r in self.results if r.status is Status.FAIL}

    def as_json(self) -> str:
        return json.dumps(
            {
                "format": REPORT_FORMAT,
                "config": self.config,
                "federation": self.federation,
                "digest": self.digest,
                "verdict": self.verdict,
                "exit_code": self.exit_code,
                "counts": {s.value: self.count(s) for s in Status},
                "results": [
                    {
                        "rule": r.rule,
                        "subject": r.subject,
                        "status": r.status.value,
                        "reason": r.reason,
                        "fix": r.fix,
                    }
                    for r in self.results
                ],
            },
            indent=2,
        )

    def as_text(self) -> str:
        lines = [f"audit of {self.config}", f"federation {self.federation}, digest {self.digest}"]
        width = max((len(r.rule) for r in self.results), default=10)
        for r in self.results:
            subject = f"[{r.subject}] " if r.subject != "federation" else ""
            lines.append(f"{r.status.value.upper():<11} {r.rule:<{width}}  {subject}{r.reason}")
            if r.fix and r.status is not Status.PASS:
                lines.append(f"{'':<11} {'':<{width}}  fix: {r.fix}")
        counts = ", ".join(f"{self.count(s)} {s.value}" for s in Status)
        lines.append(f"verdict: {self.verdict.upper()} ({counts})")
        return "\n".join(lines)
