"""Benchmark (not a test): story clustering quality and speed.

    .venv/bin/python tests/bench/bench_stories.py            # quality on the labelled set, and speed
    .venv/bin/python tests/bench/bench_stories.py --errors   # also list every article put in the wrong story

Quality: B-cubed precision/recall/F1 against tests/fixtures/stories/eval_*.yaml.
Speed: time to place one new article when the index holds 1k, 10k and 100k
synthetic articles (random names, places and numbers; a share of near-copies).
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

from monitor.stories import StoryIndex, features  # noqa: E402


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


SYLLABLES = "ka ro mi ta ne vo lu sa dri bek zan tor pol via gor nest".split()


def synthetic(rng: random.Random, n_names: int = 20000) -> list[str]:
    return ["".join(rng.choice(SYLLABLES) for _ in range(3)).capitalize() for _ in range(n_names)]


def fake_article(rng: random.Random, names: list[str]) -> tuple[str, str]:
    people = rng.sample(names, 6)
    number = rng.randint(100, 99999)
    title = f"{people[0]} și {people[1]} discută despre {people[2]}"
    sentences = [
        f"Ministrul {p} a declarat marți că {rng.choice(names)} va primi {number} de euro pentru proiectul din {rng.choice(names)}."
        for p in people
    ]
    return title, " ".join(sentences)


def speed() -> None:
    rng = random.Random(3)
    names = synthetic(rng)
    now = datetime(2025, 11, 26, tzinfo=timezone.utc)
    print("placing one new article (features excluded / included), index of N stored articles:")
    for target in (1_000, 10_000, 100_000):
        index = StoryIndex(window=timedelta(days=30))
        t0 = time.perf_counter()
        pool = []
        for i in range(target):
            if pool and rng.random() < 0.1:
                title, text = rng.choice(pool)
                text = text + " Sursa: agenții."
            else:
                title, text = fake_article(rng, names)
                if len(pool) < 500:
                    pool.append((title, text))
            index.add(i + 1, i + 1, features(title, text, "ro"), now - timedelta(minutes=rng.randint(0, 60 * 72)))
        built = time.perf_counter() - t0
        place_only, total = [], []
        for _ in range(200):
            title, text = fake_article(rng, names)
            t1 = time.perf_counter()
            f = features(title, text, "ro")
            t2 = time.perf_counter()
            index.place(f, now)
            t3 = time.perf_counter()
            place_only.append((t3 - t2) * 1000)
            total.append((t3 - t1) * 1000)
        print(
            f"  {target:>7,}: {statistics.median(place_only):6.2f} ms / {statistics.median(total):6.2f} ms median, "
            f"p95 {sorted(place_only)[189]:6.2f} ms / {sorted(total)[189]:6.2f} ms   (index built in {built:.0f} s)"
        )


if __name__ == "__main__":
    quality("--errors" in sys.argv)
    if "--quality-only" not in sys.argv:
        speed()
