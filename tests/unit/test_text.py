"""The lemma dictionaries kept in the cache directory: written once, read back, rebuilt when damaged."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

PROBE = (
    "from monitor.text import lemma, zipf; print(lemma('Organizației', 'ro'), lemma('organizatiei', 'ro'), lemma('warrants', 'en'),"
    " zipf('guvernul', 'ro'), zipf('government', 'en'))"
)


def _run(cache) -> str:  # noqa: ANN001
    env = {**os.environ, "XDG_CACHE_HOME": str(cache)}
    done = subprocess.run([sys.executable, "-c", PROBE], env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return done.stdout.split()


def test_lemma_dictionaries_are_cached_and_a_damaged_cache_is_rebuilt(tmp_path):
    expected = ["organizatie", "organizatie", "warrant", "5.23", "5.57"]
    assert _run(tmp_path) == expected
    files = sorted(p.name for p in (tmp_path / "newsmonitor").iterdir())
    assert any(f.startswith("simplemma-ro-") for f in files) and any(f.startswith("simplemma-en-") for f in files)
    assert any(f.startswith("folded-lemmas-ro-") for f in files)
    assert any(f.startswith("wordfreq-ro-") for f in files) and any(f.startswith("wordfreq-en-") for f in files)
    for f in (tmp_path / "newsmonitor").iterdir():
        f.write_bytes(b"not a dictionary")
    assert _run(tmp_path) == expected  # same answers from rebuilt tables
    ro = next((tmp_path / "newsmonitor").glob("simplemma-ro-*"))
    assert ro.stat().st_size > 1_000_000  # and the damaged file was replaced


# ordinary words, names, inflected Romanian with and without diacritics, old cedillas, joined words
WORDS = """guvernul Guvernul ministrul președintele presedintele şedinţa ședința Organizației mandatul arestări
government Government's minister's president warrants don't it's ICC CSTO Japarov Bishkek Kremlin
l-a n-a într-o dintr-un s-a l'a qu'il d'un rock-and-roll e-mail Ştefan Ștefan ŞI şi Straße über zzzzqx""".split()


@pytest.mark.parametrize("lang", ["ro", "en"])
def test_word_frequencies_are_wordfreqs_own(lang):
    from wordfreq import zipf_frequency

    from monitor.text import zipf

    got = {w: zipf(w, lang) for w in WORDS}
    assert got == {w: zipf_frequency(w, lang) for w in WORDS}
    assert got["guvernul" if lang == "ro" else "government"] > 4 and got["zzzzqx"] == 0.0
    assert zipf("2024", lang) == 0.0  # figures are not looked up
    assert zipf("guvernul", "zz") == 0.0  # a language wordfreq has no list for
