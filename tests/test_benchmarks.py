"""The benchmark scripts that README quotes keep working (on tiny sizes; their figures come from full runs)."""

import re

from conftest import PYTHON, run


def test_latency_benchmark_times_both_networks_side_by_side():
    result = run(PYTHON, "benchmarks/latency.py", "--networks", "residual", "bilateral", "--sizes", "40x24", "--runs", "2", "--warmup", "1")
    assert result.returncode == 0, result.stderr
    rows = [line for line in result.stdout.splitlines() if re.match(r"\| (residual|bilateral) \| 40x24 \|", line)]
    assert len(rows) == 2
    ratio = rows[1].split("|")[-2].strip()
    assert re.fullmatch(r"\d+\.\dx", ratio)  # residual / bilateral, measured in the same run
