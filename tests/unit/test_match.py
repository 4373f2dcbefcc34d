"""monitor.match: the query language and matching articles against many watches."""

from __future__ import annotations

import random
from pathlib import Path

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from monitor.match import And, Near, Not, Or, Phrase, QueryError, Watchlist, compile_watch, make_phrase, parse_query, snippet
from monitor.text import words
from monitor.types import Hit, Match

CASES = yaml.safe_load((Path(__file__).parent / "cases" / "match.yaml").read_text(encoding="utf-8"))


def test_case_file_is_big_enough_and_well_formed():
    assert len(CASES) >= 150
    ids = [c["id"] for c in CASES]
    assert len(ids) == len(set(ids)), "duplicate case ids"
    assert sum(c["id"].startswith("ro-") for c in CASES) >= len(CASES) / 2
    for c in CASES:
        assert {"id", "watch", "title", "text", "match"} <= set(c) <= {"id", "watch", "title", "text", "match", "language", "source"}, c["id"]
        assert isinstance(c["match"], bool), c["id"]
        assert len({"terms", "query"} & set(c["watch"])) == 1, c["id"]
        assert set(c["watch"]) <= {"terms", "query", "exclude", "languages", "sources"}, c["id"]
        assert c.get("language", "ro") == ("en" if c["id"].startswith("en-") else c.get("language", "ro")), c["id"]
    # both outcomes are exercised
    assert 0.3 < sum(c["match"] for c in CASES) / len(CASES) < 0.7


@pytest.mark.parametrize("case", CASES, ids=[c["id"] for c in CASES])
def test_match_case(case):
    watch = compile_watch("w", **case["watch"])
    matches = Watchlist([watch]).match(case["title"], case["text"], case.get("language", "ro"), case.get("source", "test"))
    assert [m.watch for m in matches] == (["w"] if case["match"] else [])
    if case["match"]:
        # a match always carries evidence
        assert matches[0].hits
        assert all("[[" in h.snippet and "]]" in h.snippet for h in matches[0].hits)


# ---- parsing --------------------------------------------------------------------------------


def P(text: str, field: str | None = None, exact: bool = False) -> Phrase:
    return make_phrase(text, 1, exact, field)


@pytest.mark.parametrize(
    "query,tree",
    [
        ("a", P("a")),
        ('"Brașov Nord"', P("Brașov Nord")),
        ("a OR b AND c", Or((P("a"), And((P("b"), P("c")))))),
        ("a b", And((P("a"), P("b")))),
        ("a AND b", And((P("a"), P("b")))),
        ("(a OR b) c", And((Or((P("a"), P("b"))), P("c")))),
        ("a NOT b", And((P("a"), Not(P("b"))))),
        ("Şcoală", P("Școală")),
        ("Putin NEAR/5 Japarov", Near((P("Putin"),), (P("Japarov"),), 5)),
        ('(Putin OR Kremlin) NEAR/2 "Sadyr Japarov" summit', And((Near((P("Putin"), P("Kremlin")), (P("Sadyr Japarov"),), 2), P("summit")))),
        ("a OR b NEAR/1 c", Or((P("a"), Near((P("b"),), (P("c"),), 1)))),
        ("title:Putin", P("Putin", "title")),
        ('text:"mandat de arestare"', P("mandat de arestare", "text")),
        ("title:(a OR b) c", And((Or((P("a", "title"), P("b", "title"))), P("c")))),
        ("title:(a OR text:b)", Or((P("a", "title"), P("b", "text")))),
        ("=Brașov", P("Brașov", exact=True)),
        ('title:="Curtea Penală"', P("Curtea Penală", "title", exact=True)),
        ("NOT title:cricket ICC", And((Not(P("cricket", "title")), P("ICC")))),
    ],
)
def test_parse_tree(query, tree):
    assert parse_query(query) == tree


# (query, expected column, substring of the message)
PARSE_ERRORS = [
    ("(a", 1, "expected ')'"),
    ("(a OR (b AND c)", 1, "expected ')'"),
    ("a AND", 6, "query ended"),
    ("a OR", 5, "query ended"),
    ("a NOT", 6, "query ended"),
    ('"x', 1, "unclosed quote"),
    ('a AND "mandat de', 7, "unclosed quote"),
    ("NOT a", 1, "only excludes"),
    ("NOT (a OR b)", 1, "only excludes"),
    ("a )", 3, "unexpected ')'"),
    ("a b)", 4, "unexpected ')'"),
    ("", 1, "empty"),
    ("   ", 1, "empty"),
    ("OR", 1, "found 'OR'"),
    ("AND b", 1, "found 'AND'"),
    ("a OR OR b", 6, "found 'OR'"),
    ("()", 2, "found ')'"),
    ('""', 1, "no letters or digits"),
    ("a AND ---", 7, "no letters or digits"),
    ("a NEAR b", 3, "NEAR/n"),
    ("a NEAR/x b", 3, "NEAR/n"),
    ("a NEAR/3", 9, "query ended"),
    ("(a AND b) NEAR/3 c", 11, "NEAR needs"),
    ("a NEAR/3 NOT b", 3, "NEAR needs"),
    ("NEAR/2 a", 1, "found 'NEAR/2'"),
    ("a = b", 3, '"=" must stand'),
    ("title:", 7, "query ended"),
]


@pytest.mark.parametrize("query,column,fragment", PARSE_ERRORS, ids=[repr(q) for q, _, _ in PARSE_ERRORS])
def test_parse_errors(query, column, fragment):
    with pytest.raises(QueryError) as info:
        parse_query(query)
    err = info.value
    assert err.column == column
    assert fragment in str(err)
    assert str(err).startswith(f"column {column}: ")
    assert isinstance(err, ValueError)


def test_compile_watch_errors():
    with pytest.raises(QueryError):
        compile_watch("w", terms=[])
    with pytest.raises(QueryError) as info:
        compile_watch("w", terms=["ok", "..."])
    assert info.value.column == 2  # the second term


@settings(max_examples=400, deadline=None, database=None)
@given(
    st.lists(
        st.sampled_from(list('ab ()"\t\n-ș=:') + ["AND", "OR", "NOT", " AND ", " OR ", " NOT ", " NEAR/2 ", "NEAR", "title:", "text:", "=", "/"]),
        max_size=20,
    ).map("".join)
)
def test_parse_query_only_raises_query_error_on_operator_soup(query):
    try:
        node = parse_query(query)
    except QueryError as exc:
        assert exc.column >= 1
        return
    assert isinstance(node, (Phrase, And, Or, Not, Near))


@settings(max_examples=400, deadline=None, database=None)
@given(st.text(max_size=60))
def test_parse_query_only_raises_query_error_on_any_text(query):
    try:
        node = parse_query(query)
    except QueryError as exc:
        assert 1 <= exc.column <= len(query) + 1
        return
    assert isinstance(node, (Phrase, And, Or, Not, Near))
    # whatever parsed can be compiled and matched without errors
    Watchlist([compile_watch("w", query=query)]).match(query, query)


# ---- hits and snippets ----------------------------------------------------------------------


def test_hits_carry_field_and_marked_snippet():
    wl = Watchlist([compile_watch("icc", query='(ICC OR "Curtea Penală Internațională") AND "mandat de arestare" NOT cricket')])
    title = "Curtea Penala Internationala, decizie"
    text = "Judecătorii au emis ieri un mandat\nde arestare pe numele fostului ministru."
    matches = wl.match(title, text)
    assert len(matches) == 1 and isinstance(matches[0], Match)
    hits = {h.term: h for h in matches[0].hits}
    assert set(hits) == {"Curtea Penală Internațională", "mandat de arestare"}  # not ICC: absent
    assert all(isinstance(h, Hit) for h in hits.values())
    court = hits["Curtea Penală Internațională"]
    assert court.field == "title"
    assert "[[Curtea Penala Internationala]]" in court.snippet  # the article's spelling, not the watch's
    warrant = hits["mandat de arestare"]
    assert warrant.field == "text"
    assert "[[mandat de arestare]]" in warrant.snippet  # the line break collapsed to a space
    assert "Judecătorii au emis ieri un [[mandat de arestare]] pe numele" in warrant.snippet


def test_title_hit_preferred_over_text_hit():
    wl = Watchlist([compile_watch("w", terms=["CSTO"])])
    [m] = wl.match("CSTO summit", "The CSTO met.")
    assert [(h.term, h.field) for h in m.hits] == [("CSTO", "title")]


def test_negated_phrases_are_not_reported_as_hits():
    wl = Watchlist([compile_watch("w", query="storm NOT cricket")])
    [m] = wl.match("Storm warning", "")
    assert [h.term for h in m.hits] == ["storm"]


def test_snippet_is_trimmed_with_ellipses():
    words = [f"w{i}" for i in range(200)]
    text = " ".join(words[:100] + ["Bișkek"] + words[100:])
    start = text.index("Bișkek")
    s = snippet(text, start, start + len("Bișkek"), width=30)
    assert s.startswith("…") and s.endswith("…")
    assert "[[Bișkek]]" in s
    assert len(s) < 80
    # no word is cut in half at either end
    for piece in s.strip("…").split():
        assert piece.strip("[]") in words + ["Bișkek"]


def test_snippet_whole_text_without_ellipses():
    assert snippet("La Brașov ninge.", 3, 9) == "La [[Brașov]] ninge."


# ---- many watches ---------------------------------------------------------------------------


def test_two_thousand_watches_match_exactly_the_right_ones():
    rng = random.Random(20240501)
    vocabulary = [f"cuvânt{i}" for i in range(3000)]
    watches = []
    for i in range(2000):
        a, b, c = rng.sample(vocabulary, 3)
        kind = i % 4
        if kind == 0:
            watches.append(compile_watch(f"w{i}", terms=[a]))
        elif kind == 1:
            watches.append(compile_watch(f"w{i}", terms=[f"{a} {b}"]))
        elif kind == 2:
            watches.append(compile_watch(f"w{i}", query=f"{a} AND ({b} OR {c})"))
        else:
            watches.append(compile_watch(f"w{i}", query=f"{a} NOT {b}"))
    wl = Watchlist(watches)

    def expected(title: str, text: str) -> set[str]:
        # a naive reference: evaluate every watch's tree on the article's word sequences
        seqs = [words(title), words(text)]

        def has(phrase: Phrase) -> bool:
            n = len(phrase.words)
            folded = tuple(w.folded for w in phrase.words)
            return any(tuple(seq[i : i + n]) == folded for seq in seqs for i in range(len(seq) - n + 1))

        def ev(node) -> bool:
            if isinstance(node, Phrase):
                return has(node)
            if isinstance(node, Not):
                return not ev(node.part)
            if isinstance(node, And):
                return all(ev(p) for p in node.parts)
            return any(ev(p) for p in node.parts)

        return {w.name for w in watches if ev(w.tree)}

    total = 0
    for _ in range(30):
        chosen = rng.sample(vocabulary, 40)
        # strip diacritics in half the words: matching must not care
        text = " ".join(w.replace("â", "a") if rng.random() < 0.5 else w for w in chosen)
        got = {m.watch for m in wl.match("", text)}
        assert got == expected("", text)
        total += len(got)
    assert total > 30  # the random articles did hit watches

    # a hand-built article with known answers
    w0 = watches[0].tree.words[0]  # a single-word term watch
    w1_words = watches[1].tree.words  # a two-word phrase watch
    w3 = watches[3].tree  # a NOT b
    a3, b3 = w3.parts[0].words[0], w3.parts[1].part.words[0]
    text = f"{w0.text}. Apoi {w1_words[1].text} {w1_words[0].text}. Și {a3.text} dar și {b3.text}."
    got = {m.watch for m in wl.match("", text)}
    assert "w0" in got
    assert "w1" not in got  # phrase words in the wrong order
    assert "w3" not in got  # excluded by NOT
    assert got == expected("", text)
    text2 = f"{' '.join(w.text for w in w1_words)} și {a3.text}"
    got2 = {m.watch for m in wl.match(text2, "")}
    assert {"w1", "w3"} <= got2 and "w0" not in got2
    assert got2 == expected(text2, "")


def test_many_watches_share_phrases():
    watches = [compile_watch(f"w{i}", terms=["CSTO"]) for i in range(500)]
    watches.append(compile_watch("other", terms=["OTSC"]))
    wl = Watchlist(watches)
    matches = wl.match("CSTO", "")
    assert [m.watch for m in matches] == [f"w{i}" for i in range(500)]
    assert wl.match("nimic", "") == []


def test_a_watch_true_without_any_phrase_is_still_evaluated():
    wl = Watchlist([compile_watch("w", query="Bișkek OR NOT cricket")])
    assert [m.watch for m in wl.match("Vremea", "Ninge la Brașov.")] == ["w"]
    assert wl.match("Cricket", "The cricket season opens.") == []



def test_only_watches_whose_anchor_occurs_are_evaluated():
    """`court AND Popescu` is anchored on the rare name, so court news alone does not wake it."""
    from monitor.match import _anchors

    court_popescu = compile_watch("w", query="court AND Popescu")
    assert [p.text for p in _anchors(court_popescu.tree)] == ["Popescu"]
    either = compile_watch("w", query='(ICC OR "Curtea Penală Internațională") AND (warrant OR "mandat de arestare")')
    assert {p.text for p in _anchors(either.tree)} in ({"ICC", "Curtea Penală Internațională"}, {"warrant", "mandat de arestare"})
    assert _anchors(compile_watch("w", query="a OR NOT b").tree) is None
    wl = Watchlist([court_popescu, compile_watch("x", terms=["court"])])
    assert [m.watch for m in wl.match("The court rules", "A court in London ruled.", "en")] == ["x"]
    assert [m.watch for m in wl.match("The court rules", "Popescu lost in court.", "en")] == ["w", "x"]


def test_explanations_name_the_clause_that_matched_or_failed():
    wl = Watchlist([
        compile_watch("icc", query='(ICC OR "Curtea Penală Internațională") AND (warrant OR "mandat de arestare")', exclude=["cricket"]),
        compile_watch("near", query="Putin NEAR/2 Japarov", languages=["ro"]),
    ])
    (m,) = wl.match("", "Curtea Penala Internationala a emis mandatul de arestare.", "ro")
    assert m.clause == '"Curtea Penală Internațională" AND "mandat de arestare"'
    verdicts = {v.watch: v for v in wl.verdicts("ICC", "The ICC and the cricket board.", "en")}
    assert verdicts["icc"].reason == "excluded: cricket is present"
    assert verdicts["near"].reason == "article language en is not in ['ro']"
    verdicts = {v.watch: v for v in wl.verdicts("", "ICC judges met. Putin și apoi, mult mai târziu, Japarov.", "ro")}
    assert verdicts["icc"].reason == 'none of warrant, "mandat de arestare" found'
    assert verdicts["near"].reason == "Putin NEAR/2 Japarov not within 2 words"


# ---- the fast path: triggers, caches, lazily found offsets -----------------------------------


def _vocabulary_article(rng: random.Random, vocabulary: list[str], n: int) -> str:
    seps = [" ", " ", " ", ", ", ". ", "-", "'", "\n", "  ", "\t(", ") ", "\u00a0"]
    return "".join(rng.choice(vocabulary) + rng.choice(seps) for _ in range(n))


def test_match_agrees_with_the_full_verdicts_scan():
    """match() skips articles with no trigger word and caches words; verdicts() scans everything."""
    rng = random.Random(99)
    vocabulary = "Brașov Braşov Brasov BRASOV mandat mandatul de arestare ICC Putin Japarov l-a într-o cricket Cricket summit s\u0326coala școală".split()
    other = "vremea ninge soare anunț ziua the weather today".split()
    queries = [
        "Brașov", '"mandat de arestare"', "Putin NEAR/1 Japarov", "ICC NOT cricket", "title:=Brașov OR text:summit",
        "Brasov OR NOT cricket", '("mandat de arestare" OR ICC) AND (Putin OR NOT Japarov)', "NOT title:cricket OR școală",
    ]
    watches = [compile_watch(f"w{i}", query=q) for i, q in enumerate(queries)]
    watches.append(compile_watch("ex", terms=["Putin"], exclude=["cricket"]))
    watches.append(compile_watch("ro", terms=["summit"], languages=["ro"]))
    wl = Watchlist(watches)
    for _ in range(300):
        words_ = vocabulary + other * rng.choice([0, 1, 10])
        title, text = _vocabulary_article(rng, words_, rng.randint(0, 5)), _vocabulary_article(rng, words_, rng.randint(0, 30))
        lang = rng.choice(["ro", "en", "fr"])
        got = {m.watch for m in wl.match(title, text, lang, "s")}
        assert got == {v.watch for v in wl.verdicts(title, text, lang, "s") if v.matched}, (title, text, lang)
        assert [m.watch for m in wl.match(title, text, lang, "s")] == sorted(got, key=lambda w: [x.name for x in watches].index(w))


def test_word_caches_are_bounded_and_change_no_result():
    rng = random.Random(5)
    vocabulary = [f"cuvânt{i}" for i in range(300)] + ["de", "la", "l-a"]
    watches = [compile_watch(f"w{i}", terms=[f"cuvânt{i}", f"cuvant{i + 1} de cuvânt{i + 2}"]) for i in range(0, 300, 3)]
    watches.append(compile_watch("any", query="cuvânt7 OR NOT cuvânt8"))
    small, big = Watchlist(watches), Watchlist(watches)
    small.MAX_CACHED = 25
    for _ in range(60):
        text = _vocabulary_article(rng, vocabulary, 40)
        lang = rng.choice(["ro", "en"])
        assert small.match("", text, lang) == big.match("", text, lang)
        assert sum(len(c.words) + len(c.chunks) for c in small._by_language.values()) <= small.MAX_CACHED
    assert sum(len(c.words) + len(c.chunks) for c in big._by_language.values()) > 100  # the big one did cache


def test_articles_without_a_trigger_word_are_not_tokenised(monkeypatch):
    wl = Watchlist([compile_watch("warrant", query='"mandat de arestare" OR "mandat european"'), compile_watch("any", query="Bișkek OR NOT cricket")])
    # a phrase wakes its watch only through its rarest word: never through "de" or "european"
    assert sorted(w.text for w, wid in wl._word_id.items() if wid in wl._triggers) == ["Bișkek", "arestare", "cricket", "mandat"]
    matched = wl.match("Vremea", "Mandat de două ori, de la Brașov.")
    assert [m.watch for m in matched] == ["any"]  # NOT cricket holds without any phrase present
    assert matched[0].hits == ()

    def no_scan(*args, **kwargs):
        raise AssertionError("tokenised an article that holds no trigger word")

    monkeypatch.setattr(wl, "_scan", no_scan)
    assert [m.watch for m in wl.match("Vremea", "Ninge de dimineață la Brașov, de la munte.")] == ["any"]
    with pytest.raises(AssertionError):
        wl.match("Cricket", "")  # a trigger: the full scan runs
    monkeypatch.undo()
    assert wl.match("Cricket", "") == []
    m = wl.match("", "Judecătorii au emis mandatul\u00a0de  arestare.")[0]
    assert m.watch == "warrant" and m.hits[0].snippet == "Judecătorii au emis [[mandatul de arestare]]."


def test_snippets_and_near_with_irregular_spacing_and_joined_words():
    wl = Watchlist([compile_watch("name", terms=["Japarov"])] + [compile_watch(f"n{n}", query=f"Putin NEAR/{n} Japarov") for n in range(4)])
    text = "  Ieri,\t\tPutin  l-a\n\nprimit pe (Japarov).  Apoi  Japarov a plecat "
    got = {m.watch: m for m in wl.match("", text)}
    assert set(got) == {"name", "n3"}  # "l-a" is one written word: three words between them
    assert got["name"].hits[0].snippet == "Ieri, Putin l-a primit pe ([[Japarov]]). Apoi Japarov a plecat"
    assert [m.watch for m in wl.match("", "Putin l-a, Japarov")] == ["name", "n1", "n2", "n3"]
    assert [m.watch for m in wl.match("Putin l-a Japarov", "")] == ["name", "n1", "n2", "n3"]
    assert [m.watch for m in wl.match("Putin l - a Japarov", "")] == ["name", "n2", "n3"]  # two words
    decomposed = "Bras\u0327ov s\u0326i Japarov"  # combining marks stay inside their word
    assert [h.snippet for h in wl.match(decomposed, "")[0].hits] == ["Bras\u0327ov s\u0326i [[Japarov]]"]


def test_packed_tables_are_compact_and_exact():
    from monitor.text import PackedTable, _folded_lemmas, lemma

    table = {"organizatiei": "organizatie", "arestari": "arestare", "ăâ": "a", "x\x00y": "z", "k": "v\x01w", "é": "e"}
    table["ștergătoarele"] = "ștergător"
    table["însă"] = "îns"  # the value is a prefix of the key
    table["ab"] = "abc" * 100  # longer than the key
    for prefixed in (False, True):
        packed = PackedTable.pack(table, prefixed=prefixed)
        again = PackedTable.loads(packed.dumps())
        for t in (packed, again):
            assert all(t.get(k, "-") == v for k, v in table.items())
            assert dict(t.items()) == table and len(t) == len(table)
            assert t.get("organizati", "-") == "-" and t.get("organizatiei\x01", "-") == "-" and t.get("", "-") == "-"
    table["ăz"] = "ąz"  # ă and ą share their first UTF-8 byte: the shared prefix ends inside a letter
    packed = PackedTable.pack(table, prefixed=True)
    assert all(packed.get(k, "-") == v for k, v in table.items())
    assert len(PackedTable.pack(table, prefixed=True)._blob) < len(PackedTable.pack(table)._blob)
    assert PackedTable.loads(b"not marshal") is None
    ro = _folded_lemmas("ro")
    assert ro.get("organizatiei", "-") == "organizatie"
    assert len(ro._blob) < 16_000_000  # a dict of the same ~300,000 pairs took ~56 MB
    assert lemma("organizatiei", "ro") == lemma("Organizației", "ro") == "organizatie"
    assert lemma("sedinta", "ro") == "sedinta"
