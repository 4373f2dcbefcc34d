"""Story grouping: identity-proof keys, near-copies, cross-language evidence, the window."""

from __future__ import annotations

import random
import re
import unicodedata
from datetime import datetime, timedelta, timezone
from pathlib import Path

import numpy as np
import pytest

from monitor.stories import NUM_PERM, Features, StoryIndex, entities, features, resemblance, signature, skeleton
from monitor.text import fold

SEED_TITLE, SEED_TEXT = (
    (Path(__file__).resolve().parents[3] / "shared" / "seed" / "000_784eaa9a48f1fa15.txt").read_text(encoding="utf-8").split("\n", 1)
)
NOW = datetime(2025, 11, 26, 12, tzinfo=timezone.utc)

EN_WIRE = (
    "Putin meets Kyrgyz leader Japarov in Bishkek ahead of CSTO summit",
    "Russian President Vladimir Putin held talks with Kyrgyz President Sadyr Japarov in Bishkek on Wednesday, "
    "the Kremlin said, as Moscow works to keep Central Asian allies close. Putin said about 1,700 Russian companies "
    "now operate in Kyrgyzstan and praised growing trade. The two sides signed agreements on energy and migration. "
    "It is Putin's second trip to Kyrgyzstan since the war in Ukraine began; his October 2023 visit was his first "
    "abroad after the International Criminal Court issued a warrant for his arrest. A summit of the Collective "
    "Security Treaty Organization (CSTO) follows in Bishkek on Thursday.",
)
TOKAYEV = (
    "Tokayev invites Putin to Kazakhstan for 2026 state visit",
    "Kazakh President Kassym-Jomart Tokayev, on a visit to Moscow, invited Vladimir Putin to Kazakhstan in 2026. "
    "Putin accepted, the Kremlin said. The two leaders discussed gas supplies, a nuclear power plant on Lake Balkhash "
    "and the grain corridor to Central Asia. Tokayev praised the strategic partnership with Russia and said "
    "Astana would host an investment forum next spring.",
)


@pytest.mark.parametrize(
    "a,b",
    [("Bișkek", "Bishkek"), ("Sadîr", "Sadyr"), ("Tokaev", "Tokayev"), ("Kazahstan", "Kazakhstan"), ("Kârgâzstan", "Kyrgyzstan"),
     ("Pașinian", "Pashinyan"), ("Erevan", "Yerevan"), ("Moscova", "Moscow"), ("București", "Bucharest"), ("Chișinău", "Chisinau"),
     ("Kassîm", "Kassym"), ("Ucraina", "Ukraine")],
)
def test_skeletons_survive_transliteration(a, b):
    assert skeleton(a) == skeleton(b)


@pytest.mark.parametrize("a,b", [("Putin", "Pashinyan"), ("Japarov", "Tokayev"), ("Bishkek", "Almaty")])
def test_skeletons_keep_different_names_apart(a, b):
    assert skeleton(a) != skeleton(b)


def test_entities_of_the_seed_article():
    keys = entities(SEED_TITLE, SEED_TEXT, "ro").keys
    # a name that folds onto an everyday word ("puțin") is still a name; places and bodies from the gazetteer
    assert {"~" + skeleton("Putin"), "~" + skeleton("Japarov"), "@KG", "@city:bishkek", "@CSTO", "@ICC", "#1700", "#2023"} <= keys
    assert "~" + skeleton("Președintele") not in keys  # a capital at a sentence start is not a name


def test_numbers_and_dates_are_language_neutral():
    ro = entities("", "Aproximativ 1.700 de companii, deficit de 6,2%, pe 26 noiembrie.", "ro").keys
    en = entities("", "About 1,700 companies, a 6.2% deficit, on November 26.", "en").keys
    assert {"#1700", "#6.2", "date:11-26"} <= ro & en


def test_features_round_trip_through_json():
    f = features(*EN_WIRE, "en")
    back = Features.from_json(f.to_json())
    assert back.entities == f.entities and resemblance(back.signature, f.signature) == 1.0


def edited_copy(text: str) -> str:
    paragraphs = [p for p in text.split("\n") if p.strip()]
    del paragraphs[3]  # an agency drops a paragraph
    edited = "\n".join(paragraphs).replace("Președintele", "Liderul rus").replace("miercuri", "în cursul zilei de miercuri")
    return edited + "\nSursa: The Moscow Times"


def placed(index: StoryIndex, title: str, text: str, language: str, when: datetime = NOW):
    return index.place(features(title, text, language), when)


def test_a_syndicated_copy_with_edits_joins_the_story():
    index = StoryIndex()
    index.add(1, 10, features(SEED_TITLE, SEED_TEXT, "ro"), NOW)
    result = placed(index, "Putin, vizită la Bișkek", edited_copy(SEED_TEXT), "ro")
    assert result.story_id == 10 and "near-copy" in result.reason


def test_a_copy_without_diacritics_joins_the_story():
    plain = "".join(c for c in unicodedata.normalize("NFD", SEED_TEXT) if not unicodedata.combining(c))
    index = StoryIndex()
    index.add(1, 7, features(SEED_TITLE, SEED_TEXT, "ro"), NOW)
    assert placed(index, SEED_TITLE, plain, "ro").story_id == 7


def test_the_english_wire_story_joins_the_romanian_story():
    index = StoryIndex()
    index.add(1, 10, features(SEED_TITLE, SEED_TEXT, "ro"), NOW)
    index.add(2, 20, features(*TOKAYEV, "en"), NOW)
    result = placed(index, *EN_WIRE, "en", NOW + timedelta(hours=2))
    assert result.story_id == 10, result.reason


def test_the_same_actors_in_another_event_start_a_new_story():
    index = StoryIndex()
    index.add(1, 10, features(SEED_TITLE, SEED_TEXT, "ro"), NOW)
    index.add(2, 10, features(*EN_WIRE, "en"), NOW)
    assert placed(index, *TOKAYEV, "en").story_id is None


def test_stories_are_joinable_only_within_the_window():
    index = StoryIndex(window=timedelta(hours=72))
    index.add(1, 10, features(SEED_TITLE, SEED_TEXT, "ro"), NOW)
    assert placed(index, SEED_TITLE, SEED_TEXT, "ro", NOW + timedelta(hours=71)).story_id == 10
    assert placed(index, SEED_TITLE, SEED_TEXT, "ro", NOW + timedelta(hours=73)).story_id is None
    index.forget_before(NOW + timedelta(hours=73))
    assert len(index) == 0 and placed(index, SEED_TITLE, SEED_TEXT, "ro").story_id is None


def test_signatures_are_stable_across_processes():
    # stored in the database and compared after a restart: must not depend on Python's hash seed
    assert [int(x) for x in signature("Unu doi trei patru cinci")[:3]] == [int(x) for x in signature("Unu doi trei patru cinci")[:3]]
    assert resemblance(signature("a b c d e f g"), signature("x y z w v u t")) < 0.2


# ---- fast extraction, same results ------------------------------------------------------------

ENTITY_CASES = [
    # a Romanian multi-word name found by its words' dictionary forms; a weekday; a capital and its country
    ("", "Liderii Organizației Tratatului de Securitate Colectivă se reunesc joi la Bișkek, în Kârgâzstan.", "ro",
     {"@CSTO", "@KG", "@city:bishkek", "@day:thu"}, set()),
    # an acronym as written, a two-word place, a date, a year; "Japarov's" is Japarov; a lone digit is no figure
    ("", "NATO ministers met in The Hague on March 5, 2025, with Japarov's envoy.", "en",
     {"#2025", "@NATO", "@city:hague", "@month:03", "date:03-05", "~jprv"}, set()),
    # the title's own keys; "The" starts a sentence, the Kremlin stands for Russia
    ("Tokayev invites Putin", "The Kremlin said Putin accepted on November 26.", "en",
     {"#26", "@RU", "@month:11", "date:11-26", "~ptn", "~tkv"}, {"~ptn", "~tkv"}),
    # everyday words at a sentence start are not names (Astăzi, Guvernul); figures in Romanian notation
    ("", "Astăzi, ministrul Ion Popescu a anunțat bugetul. Guvernul a aprobat 1.700 de posturi și un deficit de 6,2%.", "ro",
     {"#1700", "#6.2", "~ion", "~psk"}, set()),
    # a date may run on from the title into the text; the title's keys take the title alone
    ("Summit pe 26", "noiembrie, la Chișinău, cu 1 700 de invitați, pe 3 decembrie 2025.", "ro",
     {"#1700", "#2025", "#26", "@city:chisinau", "@month:11", "@month:12", "date:11-26", "date:12-03"}, {"#26"}),
    # the longest name wins: Statele Unite ale Americii, not Statele Unite then Americii
    ("Republica Moldova și Statele Unite",
     "Republica Moldova a semnat cu Statele Unite ale Americii un acord. Acordul intră în vigoare pe 1 ianuarie 2026.", "ro",
     {"#2026", "@MD", "@US", "@month:01", "date:01-01"}, {"@MD", "@US"}),
]


@pytest.mark.parametrize(
    "title,text,language,keys,title_keys", ENTITY_CASES, ids=["by-lemmas", "acronym-place-date", "title", "sentence-start", "title-into-text", "longest"]
)
def test_entity_keys_of_hand_checked_sentences(title, text, language, keys, title_keys):
    found = entities(title, text, language)
    assert (set(found.keys), set(found.title_keys)) == (keys, title_keys)
    assert features(title, text, language).entities == found


def _figure_texts(seed: int, count: int) -> list[str]:
    """Random text dense with numbers, months and what may join or split them."""
    words = ("26 1 12 123 1.700 1,700 6,2 6.2 2025 1 700 100 000 000 007 00 31 3rd COVID-19 19-20 mid-2026 x_1 a1 "
             "mai Mai MAI noiembrie NOIEMBRIE November may March iunie iulie decembrie Bișkek Putin the la pe de").split()
    seps = [" ", " ", "  ", ", ", ". ", ".", ",", "\n", " (", ") ", "-", "'", "’", "\t", "\u00a0", "\u202f", " – ", "%", ": "]
    rng = random.Random(seed)
    return ["".join(rng.choice(words) + rng.choice(seps) for _ in range(rng.randint(0, 40))) for _ in range(count)]


def test_numbers_and_dates_are_those_the_patterns_find_anywhere():
    # extraction tries _NUMBER and _DATE only at words with digits: it must find what a scan of the whole text finds
    from monitor.stories import _DATE, _MONTHS, _NUMBER, _number_key

    for text in _figure_texts(seed=5, count=400):
        expected = {key for m in _NUMBER.finditer(text) if (key := _number_key(m.group(1), m.group(2)))}
        for m in _DATE.finditer(text):
            day, month = (m.group(1), m.group(2)) if m.group(1) else (m.group(4), m.group(3))
            expected.add(f"date:{_MONTHS[month.lower()]:02d}-{int(day):02d}")
        for found in (entities("", text, "ro").keys, entities(text, "", "en").title_keys):
            assert {k for k in found if k.startswith(("#", "date:"))} == expected, text


def _datasketch_signature(text: str) -> np.ndarray:
    """What signature() computed with datasketch before: MinHash(num_perm=NUM_PERM, seed=1) of the folded 4-word shingles."""
    datasketch = pytest.importorskip("datasketch")
    words = [fold(w) for w in re.findall(r"\w+(?:[-'’]\w+)*", text)]
    if len(words) < 4:
        shingles = [" ".join(words).encode()] if words else []
    else:
        shingles = [" ".join(words[i : i + 4]).encode() for i in range(len(words) - 3)]
    m = datasketch.MinHash(num_perm=NUM_PERM, seed=1)
    if shingles:
        m.update_batch(shingles)
    return m.hashvalues.astype(np.uint64)


def _signature_texts() -> list[str]:
    ro = "Șeful țării își asumă răspunderea pentru bugetul pe 2026, a declarat miercuri președintele"
    rng = random.Random(11)
    vocab = ro.split() + "ăâîșț ĂÂÎȘȚ Bişkek Kârgâzstan Sadîr Путин Жапаров 1.700 6,2% O'Neil l’Europe COVID-19 Straße İstanbul".split()
    generated = [" ".join(rng.choice(vocab) for _ in range(rng.randint(1, 150))) for _ in range(12)]
    return [
        "", " ", "\n\n", "!?", "a", "a b", "a b c", "a b c d", "a b c d e", "Unu doi trei patru cinci",
        "Bișkek", ro, ro.replace("ș", "ş").replace("ț", "ţ"), unicodedata.normalize("NFD", ro), "ĂÂÎȘȚ ăâîșț " * 30,
        "Путин встретился с Жапаровым в Бишкеке в среду", "习近平 会见 普京", "🙂 🙂 🙂 🙂 🙂", "🙂 a 🙂 b c d",
        "x " * 600, SEED_TITLE, SEED_TEXT, EN_WIRE[1], TOKAYEV[1], edited_copy(SEED_TEXT),
    ] + generated


@pytest.mark.parametrize("text", _signature_texts(), ids=lambda t: f"{len(t)}chars")
def test_signatures_are_bit_identical_to_datasketch_minhash(text):
    # signatures are stored, and compared with those of new articles: the numpy MinHash must not drift from datasketch's
    ours = signature(text)
    assert ours.dtype == np.uint64 and ours.tolist() == _datasketch_signature(text).tolist()
    assert features("Un titlu oarecare", text, "ro").signature.tolist() == (ours.tolist() if text else signature("Un titlu oarecare").tolist())


def test_a_month_look_alike_is_not_a_date_and_breaks_nothing():
    # the case-free date pattern lets in "ıanuarie" (dotless ı); it names no month
    ents = entities("Summit la Bișkek", "Pe 5 ıanuarie 2026 liderii s-au întâlnit la Bișkek, pe 7 ianuarie la Moscova.", "ro")
    assert "date:01-07" in ents.keys
    assert "date:01-05" not in ents.keys


def test_lsh_bands_find_shared_bands_across_merges_and_forget_removed_articles():
    from monitor.stories import _Bands

    rng = np.random.default_rng(1)
    bands = _Bands()
    sigs = {i: rng.integers(0, 2**32, size=NUM_PERM, dtype=np.uint64) for i in range(1, bands.MERGE_EVERY + 500)}
    for i, sig in sigs.items():
        bands.insert(i, sig)
    assert len(bands._hashes) > 0 and bands._recent  # some merged into the arrays, some still recent
    for i in (1, 2, bands.MERGE_EVERY + 10):  # one merged, one merged, one recent
        assert i in bands.query(sigs[i])
        probe = rng.integers(0, 2**32, size=NUM_PERM, dtype=np.uint64)
        probe[8:12] = sigs[i][8:12]  # one band in common is enough to be a candidate
        assert i in bands.query(probe)
    bands.remove(1, sigs[1])
    bands.remove(bands.MERGE_EVERY + 10, sigs[bands.MERGE_EVERY + 10])
    assert 1 not in bands.query(sigs[1]) and bands.MERGE_EVERY + 10 not in bands.query(sigs[bands.MERGE_EVERY + 10])
    bands._merge()
    assert 1 not in bands.query(sigs[1]) and 2 in bands.query(sigs[2])
    assert bands.query(rng.integers(0, 2**32, size=NUM_PERM, dtype=np.uint64)) == set()


def test_lsh_bands_keep_article_ids_beyond_32_bits():
    from monitor.stories import _Bands

    rng = np.random.default_rng(2)
    bands = _Bands()
    small, big = rng.integers(0, 2**32, size=(2, NUM_PERM), dtype=np.uint64)
    bands.insert(7, small)
    bands._merge()
    assert bands._ids.dtype == np.uint32  # 4 bytes an entry while every id fits
    bands.insert(2**40 + 3, big)
    bands._merge()
    assert bands.query(big) == {2**40 + 3} and bands.query(small) == {7}
    bands.remove(7)
    bands._merge()
    assert bands.query(small) == set() and bands.query(big) == {2**40 + 3}


def test_index_keeps_signatures_compact_and_finds_near_copies_either_way():
    from datetime import datetime, timezone

    from monitor.stories import Entities, Features, StoryIndex

    now = datetime(2025, 11, 26, tzinfo=timezone.utc)
    rng = np.random.default_rng(5)
    index = StoryIndex()
    small = rng.integers(0, 2**32, size=NUM_PERM, dtype=np.uint64)  # what _minhash makes
    large = rng.integers(2**40, 2**62, size=NUM_PERM, dtype=np.uint64)  # not from _minhash, but must not be mangled
    for article_id, sig in ((1, small), (2, large)):
        index.add(article_id, article_id * 10, Features("ro", sig, Entities(frozenset(), frozenset()), 200), now)
    assert len(index._articles[1].signature) == NUM_PERM * 4 and len(index._articles[2].signature) == NUM_PERM * 8
    for story_id, sig in ((10, small), (20, large)):
        near = sig.copy()
        near[:8] = rng.integers(0, 2**32, size=8, dtype=np.uint64)
        assert index.place(Features("ro", near, Entities(frozenset(), frozenset()), 200), now).story_id == story_id
