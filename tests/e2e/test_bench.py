"""The ingest benchmark still runs end to end (tiny sizes; the numbers themselves are not judged here)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.one_backend
def test_ingest_benchmark_runs_and_reports_every_figure():
    done = subprocess.run(
        [sys.executable, "benchmarks/bench_ingest.py", "--feeds", "3", "--items", "4", "--rounds", "1", "--only", "first,floor,repoll,large", "--large", "300",
         "--daemon-seconds", "3"],
        cwd=ROOT, capture_output=True, text=True, timeout=600,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    out = done.stdout
    assert re.search(r"monitor run --once +\d+ entries/s", out)
    assert re.search(r"reader +\d+ entries/s .*ratio [\d.]+x", out)  # reader is a dev dependency: the comparison runs
    assert re.search(r"floor, 3 feeds x 4 items.*imports alone [\d.]+ s .*discards every feed [\d.]+ s .*nothing else [\d.]+ s", out)
    assert re.search(r"re-poll, 304 Not Modified: [\d.-]+ ms CPU", out)
    assert re.search(r"re-poll, same bytes, no validators: [\d.-]+ ms CPU", out)
    assert re.search(r"daemon re-poll, 304 Not Modified: [\d.]+ ms CPU per feed per pass .* the monitor adds [\d.-]+ ms", out)
    assert re.search(r"large store: first pass over 3 feeds [\d.]+ s on an empty database, [\d.]+ s with 300 articles stored", out)
