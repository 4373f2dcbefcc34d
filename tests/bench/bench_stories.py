"""Benchmark (not a test): story clustering quality and speed.

    .venv/bin/python tests/bench/bench_stories.py            # quality on the labelled set, and speed
    .venv/bin/python tests/bench/bench_stories.py --errors   # also list every article put in the wrong story

Quality: B-cubed precision/recall/F1 against tests/fixtures/stories/eval_*.yaml.
Speed: time to place one new article when the index holds 1k, 10k and 100k
synthetic articles (Zipf-distributed names, numbers, places; 15% near-copies),
and, apart, the time to extract an article's features.
"""

from __future__ import annotations

import random
import statistics
import sys
import time
from collections import defaultdict
from datetime import datetime, timedelta, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from story_eval import load_eval, run_eval  # noqa: E402

import numpy as np  # noqa: E402

from monitor.stories import NUM_PERM, Entities, Features, StoryIndex, features  # noqa: E402


def quality(show_errors: bool) -> None:
    articles = load_eval()
    t0 = time.perf_counter()
    p, r, f1, clusters = run_eval(articles)
    took = time.perf_counter() - t0
    stories = len({a["story"] for a in articles})
    langs = sum(a["language"] == "ro" for a in articles)
    print(f"labelled set: {len(articles)} articles ({langs} ro, {len(articles) - langs} en) in {stories} stories")
    print(f"B-cubed precision {p:.3f}  recall {r:.3f}  F1 {f1:.3f}   ({took / len(articles) * 1000:.1f} ms/article incl. features)")
    if show_errors:
        by_cluster = defaultdict(list)
        for a, c in zip(articles, clusters):
            by_cluster[c].append(a)
        for c, members in by_cluster.items():
            labels = {m["story"] for m in members}
            if len(labels) > 1:
                print(f"  MERGED {sorted(labels)}: " + ", ".join(m["id"] for m in members))
        by_label = defaultdict(set)
        for a, c in zip(articles, clusters):
            by_label[a["story"]].add(c)
        for label, cs in by_label.items():
            if len(cs) > 1:
                parts = [[a["id"] for a, c in zip(articles, clusters) if a["story"] == label and c == x] for x in cs]
                print(f"  SPLIT {label}: {parts}")


def synthetic_features(rng: random.Random, vocab: int, base: Features | None = None) -> Features:
    """An article's keys drawn from a Zipf-like vocabulary of names, places and numbers; or a near-copy of base."""
    if base is not None:
        sig = base.signature.copy()
        flip = rng.sample(range(len(sig)), 8)
        sig[flip] = np.array([rng.getrandbits(32) for _ in flip], dtype=np.uint64)  # MinHash values are 32-bit
        return Features(base.language, sig, base.entities, base.words)
    keys = {f"~n{int(rng.paretovariate(0.7)) % vocab}" for _ in range(14)}
    keys |= {f"#{rng.randint(10, 99999)}" for _ in range(3)} | {f"@C{rng.randint(0, 60)}" for _ in range(3)}
    title = frozenset(list(keys)[:4])
    sig = np.array([rng.getrandbits(32) for _ in range(NUM_PERM)], dtype=np.uint64)
    return Features(rng.choice(["ro", "en"]), sig, Entities(frozenset(keys), title), 200)


def speed() -> None:
    rng = random.Random(3)
    now = datetime(2025, 11, 26, tzinfo=timezone.utc)
    title, text = load_eval()[0]["title"], load_eval()[0]["text"]
    t0 = time.perf_counter()
    for _ in range(50):
        features(title, text, "ro")
    print(f"feature extraction (names, places, numbers, MinHash) of a 360-word article: {(time.perf_counter() - t0) / 50 * 1e6:.0f} µs")
    articles = load_eval()
    t0 = time.perf_counter()
    for a in articles:
        features(a["title"], a["text"], a["language"])
    took = (time.perf_counter() - t0) / len(articles) * 1e6
    print(f"  over the {len(articles)} labelled articles (their words seen before): {took:.0f} µs/article")
    print("placing one new article in an index of N recent articles (median / p95):")
    for target in (1_000, 10_000, 100_000):
        index = StoryIndex(window=timedelta(days=30))
        recent: list[Features] = []
        story = 0
        t1 = time.perf_counter()
        for i in range(target):
            if recent and rng.random() < 0.15:
                f = synthetic_features(rng, target, rng.choice(recent))  # syndicated copy
            else:
                f = synthetic_features(rng, target)
                story += 1
            recent = (recent + [f])[-1000:]
            index.add(i + 1, story, f, now - timedelta(minutes=rng.randint(0, 60 * 72)))
        built = time.perf_counter() - t1
        timings = []
        for j in range(300):
            f = synthetic_features(rng, target, rng.choice(recent) if j % 4 == 0 else None)
            t2 = time.perf_counter()
            index.place(f, now)
            timings.append((time.perf_counter() - t2) * 1000)
        timings.sort()
        print(f"  {target:>7,} articles: {statistics.median(timings):6.2f} ms / {timings[284]:6.2f} ms   (index built in {built:.0f} s)")


if __name__ == "__main__":
    quality("--errors" in sys.argv)
    if "--quality-only" not in sys.argv:
        speed()
