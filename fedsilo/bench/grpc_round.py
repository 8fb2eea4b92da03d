"""`fedsilo bench --transport grpc`: the aggregator and every silo as separate OS
processes talking mutual TLS on 127.0.0.1, certificates provisioned into a temp dir.

``plain_seconds`` is the same round with unprotected float32 vectors over the
same processes and transport, so ``overhead_ratio`` is the cost of security
alone. ``exact`` compares the released integer sum with the sum of the
quantized inputs the silos report locally (a benchmark-only observation).
"""

from __future__ import annotations

import datetime as dt
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from fedsilo.errors import ConfigError, FedsiloError
from fedsilo.runtime.provisioning import provision_federation
from fedsilo.testing.configs import TIMEOUTS, write_local_config


def run_grpc_bench(
    silos: int, params: int, repeat: int, scheme: str = "masking"
) -> dict[str, object]:
    if silos < 3 or params < 1 or repeat < 1:
        raise ConfigError("--silos must be >= 3, --params and --repeat positive")
    with tempfile.TemporaryDirectory(prefix="fedsilo-bench-") as tmp:
        root = Path(os.environ.get("FEDSILO_BENCH_KEEP") or tmp)
        root.mkdir(parents=True, exist_ok=True)
        write_local_config(
            root / "bench.yaml",
            federation="bench",
            silos=silos,
            params=params,
            rounds=repeat,
            timeouts=dict.fromkeys(TIMEOUTS, 600),
            silo_prefix="b",
            scheme=scheme,
        )
        provision_federation(root / "bench.yaml", root / "fed", dt.datetime.now(dt.UTC))
        procs = _start(root, silos, repeat)
        try:
            _wait_all(root, procs)
        finally:
            for p in procs:
                if p.poll() is None:
                    p.kill()
                    p.wait()
        raw = json.loads((root / "bench-result.json").read_text())
        exact = all(_exact(root, r, raw["survivors"][r - 1]) for r in range(1, repeat + 1))
        stages = _silo_stage_seconds(root, silos)
    secure, plain = statistics.median(raw["secure"]), statistics.median(raw["plain"])
    consistency = _median_round(stages, "consistency-check", repeat)
    release = _median_round(stages, "release", repeat)
    verification = statistics.median(_verification_seconds(stages, r) for r in range(1, repeat + 1))
    return {
        "scheme": scheme,
        "transport": "grpc",
        "silos": silos,
        "params": params,
        "dropouts": 0,
        "repeat": repeat,
        "round_seconds": secure,
        "plain_seconds": plain,
        "overhead_ratio": secure / plain,
        "exact": exact,
        "aggregator_peak_rss_mb": raw["peak_rss_mb"],
        "bytes_per_param_uploaded": statistics.median(raw["bytes"]) / (silos * params),
        # adverts, shares, commitments, sketches with their spot-check leaves, reveals, acks
        "message_bytes_per_silo": statistics.median(raw["message_bytes"]) / silos,
        # release verification as each silo pays it (the slowest silo per round, median over
        # rounds): signing the view with its sketches and spot leaves, then fetching Y,
        # checking the secrets, rebuilding the survivors' masks, the sketch and spot checks,
        # deriving the model and acking; an upper bound, since it includes the unmasking
        # and the download of the sum that a round without verification also pays
        "consistency_stage_seconds": consistency,
        "release_stage_seconds": release,
        "verification_stages_share": (consistency + release) / secure,
        # what verification itself adds to the round: the slowest silo's verification work
        # at consistency and at release, plus the carry byte per 4-byte limb that makes Y
        # a fifth larger than the aggregate A a round without verification would download
        "verification_seconds": verification,
        "verification_share": verification / secure,
        "verification_cpu_seconds": _median_round(
            stages, "consistency-check:verify_cpu_seconds", repeat
        )
        + _median_round(stages, "release:verify_cpu_seconds", repeat),
        "release_fetch_seconds": _median_round(stages, "release:fetch_seconds", repeat),
        "release_cpu_seconds": _median_round(stages, "release:cpu_seconds", repeat),
        "consistency_cpu_seconds": _median_round(stages, "consistency-check:cpu_seconds", repeat),
        "masked_input_seconds": _median_round(stages, "masked-input", repeat),
        "masked_input_cpu_seconds": _median_round(stages, "masked-input:cpu_seconds", repeat),
    }


def _silo_stage_seconds(root: Path, silos: int) -> dict[tuple[str, int], list[float]]:
    """Each silo's logged seconds per (stage, round)."""
    out: dict[tuple[str, int], list[float]] = {}
    for i in range(1, silos + 1):
        for line in (root / f"b{i}.log").read_text().splitlines():
            if not line.startswith("{"):
                continue
            event = json.loads(line)
            if event.get("event") == "stage" and "seconds" in event:
                key = (str(event["stage"]), int(event["round"]))
                out.setdefault(key, []).append(float(event["seconds"]))
                for part in (
                    "cpu_seconds",
                    "fetch_seconds",
                    "verify_seconds",
                    "verify_cpu_seconds",
                ):
                    if part in event:
                        key = (f"{event['stage']}:{part}", int(event["round"]))
                        out.setdefault(key, []).append(float(event[part]))
    return out


CARRY_SHARE_OF_Y = 1 / 5  # one carry byte per 4-byte limb


def _verification_seconds(stages: dict[tuple[str, int], list[float]], r: int) -> float:
    """Round ``r``'s critical-path seconds of verification (slowest silo per stage)."""

    def slowest(key: str) -> float:
        if (key, r) not in stages:
            raise FedsiloError(f"the silos logged no {key} for round {r}")
        return max(stages[(key, r)])

    return (
        slowest("consistency-check:verify_seconds")
        + slowest("release:verify_seconds")
        + CARRY_SHARE_OF_Y * slowest("release:fetch_seconds")
    )


def _median_round(stages: dict[tuple[str, int], list[float]], stage: str, repeat: int) -> float:
    """The median over rounds of the slowest silo's seconds in ``stage``."""
    return statistics.median(max(stages.get((stage, r), [0.0])) for r in range(1, repeat + 1))


def _spawn(args: list[str], log: Path) -> subprocess.Popen[bytes]:
    env = {**os.environ, "GRPC_VERBOSITY": "ERROR"}
    with log.open("wb") as stderr:  # the child keeps its own copy of the descriptor
        return subprocess.Popen(  # noqa: S603 - this interpreter running our own module
            [sys.executable, "-m", "fedsilo.bench.grpc_worker", *args],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=stderr,
        )


def _start(root: Path, silos: int, repeat: int) -> list[subprocess.Popen[bytes]]:
    common = ["--root", str(root), "--config-name", "bench.yaml", "--repeat", str(repeat)]
    procs = [_spawn(["aggregator", *common], root / "agg.log")]
    procs += [
        _spawn(["silo", *common, "--name", f"b{i}"], root / f"b{i}.log")
        for i in range(1, silos + 1)
    ]
    return procs


def _wait_all(root: Path, procs: list[subprocess.Popen[bytes]], limit: float = 3600) -> None:
    """Wait for every node; the moment one fails, stop waiting (the caller kills the rest)."""
    deadline = time.monotonic() + limit
    while any(p.poll() is None for p in procs):
        failed = [i for i, p in enumerate(procs) if p.poll() not in (None, 0)]
        if failed or time.monotonic() > deadline:
            name = "agg" if not failed or failed[0] == 0 else f"b{failed[0]}"
            log = (root / f"{name}.log").read_text()[-1500:]
            raise FedsiloError(f"benchmark node {name} failed or timed out: {log}")
        time.sleep(0.2)
    failed = [i for i, p in enumerate(procs) if p.returncode]
    if failed:
        name = "agg" if failed[0] == 0 else f"b{failed[0]}"
        raise FedsiloError(
            f"benchmark node {name} failed: {(root / f'{name}.log').read_text()[-1500:]}"
        )


def _exact(root: Path, round_number: int, survivors: list[str]) -> bool:
    total = np.zeros(0, dtype=np.uint64)
    for name in survivors:
        q = np.fromfile(root / f"q-{name}-{round_number}.u32", dtype="<u4").astype(np.uint64)
        total = q if total.size == 0 else total + q
    released = np.fromfile(root / f"aggregate-{round_number}.u32", dtype="<u4")
    return bool(np.array_equal((total % (1 << 32)).astype(np.uint32), released))
