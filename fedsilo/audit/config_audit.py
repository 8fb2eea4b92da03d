"""`fedsilo audit config`: every rule, one verdict."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from fedsilo.audit.cert_rules import certificate_rules, endorsement_rules
from fedsilo.audit.config_rules import config_rules
from fedsilo.audit.report import AuditReport
from fedsilo.config.load import load_config


def audit_config(
    config_path: Path,
    now: dt.datetime,
    certs_dir: Path | None = None,
    crl_path: Path | None = None,
) -> AuditReport:
    """Audit a config file; raises ConfigError if it cannot even be read (exit 2)."""
    config = load_config(config_path)
    results = [
        *config_rules(config),
        *certificate_rules(config, certs_dir, crl_path, now),
        *endorsement_rules(config, config_path, certs_dir),
    ]
    return AuditReport(str(config_path), config.federation, config.digest(), tuple(results))
