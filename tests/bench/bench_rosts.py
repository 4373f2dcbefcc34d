"""Measurement (not a test) on RO-STS (Dumitrescu et al., CC BY-SA 4.0), in ../shared/corpora/ro-sts.

    .venv/bin/python tests/bench/bench_rosts.py

1. Near-copy signal on Romanian sentence pairs scored 0-5 for similarity: Spearman
   correlation of shingle resemblance with the human score, and what share of pairs
   above the near-copy threshold humans scored >= 4.
2. Cross-language keys on the line-aligned Romanian/English sentences: how often an
   aligned pair shares a name/place/number key, against randomly paired sentences.
"""

from __future__ import annotations

import random
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from monitor.stories import NEAR_COPY, entities, shingles  # noqa: E402

CORPUS = Path(__file__).resolve().parents[3] / "shared" / "corpora" / "ro-sts" / "dataset"


def jaccard(a: set, b: set) -> float:
    return len(a & b) / len(a | b) if a | b else 0.0


def spearman(x: list[float], y: list[float]) -> float:
    rx = np.argsort(np.argsort(x, kind="stable"), kind="stable").astype(float)
    ry = np.argsort(np.argsort(y, kind="stable"), kind="stable").astype(float)
    return float(np.corrcoef(rx, ry)[0, 1])


def near_copies() -> None:
    gold, sim = [], []
    for line in (CORPUS / "text-similarity" / "RO-STS.test.tsv").read_text(encoding="utf-8").splitlines():
        parts = line.split("\t")
        if len(parts) != 3:
            continue
        score, a, b = float(parts[0]), parts[1], parts[2]
        gold.append(score)
        sim.append(jaccard(set(shingles(a)), set(shingles(b))))
    above = [g for g, s in zip(gold, sim) if s >= NEAR_COPY]
    print(f"RO-STS test, {len(gold)} Romanian pairs: Spearman(shingle Jaccard, human score) = {spearman(sim, gold):.3f}")
    if above:
        print(f"  {len(above)} pairs at or above the near-copy threshold {NEAR_COPY}: {sum(g >= 4 for g in above) / len(above):.1%} scored >= 4 by humans")


def cross_language() -> None:
    ro = (CORPUS / "ro-en" / "RO-STS.test.ro").read_text(encoding="utf-8").splitlines()
    en = (CORPUS / "ro-en" / "RO-STS.test.en").read_text(encoding="utf-8").splitlines()
    keys_ro = [entities("", s, "ro").keys for s in ro]
    keys_en = [entities("", s, "en").keys for s in en]
    both = [(a, b) for a, b in zip(keys_ro, keys_en) if a and b]
    rng = random.Random(1)
    shuffled = keys_en[:]
    rng.shuffle(shuffled)
    rand = [(a, b) for a, b in zip(keys_ro, shuffled) if a and b]
    share = sum(bool(a & b) for a, b in both) / len(both)
    share_rand = sum(bool(a & b) for a, b in rand) / len(rand)
    mean_j = sum(jaccard(a, b) for a, b in both) / len(both)
    mean_j_rand = sum(jaccard(a, b) for a, b in rand) / len(rand)
    print(f"RO-STS test, {len(ro)} aligned ro/en sentences; {len(both)} pairs where both sides have name/place/number keys:")
    print(f"  aligned pairs sharing a key: {share:.1%} (mean Jaccard {mean_j:.2f}); random pairs: {share_rand:.1%} (mean Jaccard {mean_j_rand:.2f})")


if __name__ == "__main__":
    near_copies()
    cross_language()
