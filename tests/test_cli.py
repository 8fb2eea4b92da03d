"""`fedsilo` commands, run as a user runs them: in a separate process."""

from __future__ import annotations

import json

from tests.cli_helpers import fedsilo

EXPECTED_KEYS = {
    "scheme",
    "transport",
    "silos",
    "params",
    "dropouts",
    "round_seconds",
    "plain_seconds",
    "overhead_ratio",
    "silo_mask_seconds",
    "mask_floor_seconds",
    "aggregator_seconds",
    "unmask_floor_seconds",
    "exact",
    "max_abs_error",
    "peak_rss_mb",
}


def test_bench_json_reports_an_exact_round_with_every_figure() -> None:
    out = fedsilo(
        "bench",
        "--scheme",
        "masking",
        "--transport",
        "memory",
        "--silos",
        "5",
        "--params",
        "20000",
        "--dropouts",
        "1",
        "--repeat",
        "2",
        "--json",
    )
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout)
    assert set(result) >= EXPECTED_KEYS
    assert result["exact"] is True
    assert result["silos"] == 5 and result["dropouts"] == 1
    assert result["overhead_ratio"] == result["round_seconds"] / result["plain_seconds"]
    assert result["max_abs_error"] <= 5 * 2 / ((1 << 16) - 1)


def test_bench_prints_a_readable_table_without_json() -> None:
    out = fedsilo("bench", "--silos", "3", "--params", "1000")
    assert out.returncode == 0, out.stderr
    assert "exact" in out.stdout and "True" in out.stdout


def test_too_many_dropouts_is_a_one_line_error_not_a_traceback() -> None:
    out = fedsilo("bench", "--silos", "5", "--params", "100", "--dropouts", "3")
    assert out.returncode == 2
    assert out.stderr.strip().count("\n") == 0
    assert "n - t = 1" in out.stderr and "Traceback" not in out.stderr


def test_too_few_silos_names_the_threshold_rule() -> None:
    out = fedsilo("bench", "--silos", "2", "--params", "100")
    assert out.returncode == 2
    assert "threshold.minimum-silos" in out.stderr and "Traceback" not in out.stderr


def test_a_scheme_that_is_not_built_is_refused_by_the_parser() -> None:
    out = fedsilo("bench", "--scheme", "paillier")
    assert out.returncode == 2 and "invalid choice" in out.stderr


def test_bench_over_grpc_runs_every_node_as_a_process_and_is_exact() -> None:
    out = fedsilo(
        "bench",
        "--transport",
        "grpc",
        "--silos",
        "3",
        "--params",
        "20000",
        "--repeat",
        "1",
        "--json",
    )
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout)
    assert result["transport"] == "grpc" and result["exact"] is True
    assert result["aggregator_peak_rss_mb"] > 0
    # every silo timed its own verification work, which is part of the round
    assert 0 < result["verification_seconds"] < result["round_seconds"]
    assert result["verification_cpu_seconds"] > 0
    assert 4.0 <= result["bytes_per_param_uploaded"] < 4.2  # raw uint32 words, tiny overhead
    # the rest is bounded whatever the model size: 64 spot-check leaves of 2 KiB with their
    # Merkle proofs dominate (at 20 000 params that is every leaf)
    assert result["message_bytes_per_silo"] < 64 * (2048 + 16 * 34) + 16_000
