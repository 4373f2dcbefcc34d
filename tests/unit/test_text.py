"""The lemma dictionaries kept in the cache directory: written once, read back, rebuilt when damaged."""

from __future__ import annotations

import os
import subprocess
import sys

PROBE = "from monitor.text import lemma; print(lemma('Organizației', 'ro'), lemma('organizatiei', 'ro'), lemma('warrants', 'en'))"


def _run(cache) -> str:  # noqa: ANN001
    env = {**os.environ, "XDG_CACHE_HOME": str(cache)}
    done = subprocess.run([sys.executable, "-c", PROBE], env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return done.stdout.split()


def test_lemma_dictionaries_are_cached_and_a_damaged_cache_is_rebuilt(tmp_path):
    expected = ["organizatie", "organizatie", "warrant"]
    assert _run(tmp_path) == expected
    files = sorted(p.name for p in (tmp_path / "newsmonitor").iterdir())
    assert any(f.startswith("simplemma-ro-") for f in files) and any(f.startswith("simplemma-en-") for f in files)
    assert any(f.startswith("folded-lemmas-ro-") for f in files)
    for f in (tmp_path / "newsmonitor").iterdir():
        f.write_bytes(b"not a dictionary")
    assert _run(tmp_path) == expected  # same answers from rebuilt tables
    ro = next((tmp_path / "newsmonitor").glob("simplemma-ro-*"))
    assert ro.stat().st_size > 1_000_000  # and the damaged file was replaced
