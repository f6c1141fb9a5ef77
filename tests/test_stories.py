"""Story grouping (alerts/stories.py) on sample articles written for it: tests/story_cases/."""
import json
from pathlib import Path

import pytest

from alerts import stories
from alerts.stories import fingerprint, group_stories, same_story

CASES = Path(__file__).parent / "story_cases"


def load(name: str) -> dict:
    head, text = (CASES / f"{name}.txt").read_text(encoding="utf-8").split("\n\n", 1)
    item = dict(line.split(": ", 1) for line in head.splitlines())
    item["id"] = int(item["id"])
    item["text"] = text
    item["fingerprint"] = fingerprint(item["title"], text, item["language"])
    return item


NGHEAN_VNE, NGHEAN_TT = "vne_nghean_rescue", "tuoitre_nghean_rescue"      # same event, 2 outlets
LAOCAI_EN, LAOCAI_VI = "bcp_laocai_en", "bcp_laocai_vi"                   # same release, 2 languages
HATINH_EARLIER, HATINH_FOLLOWUP = "vns_hatinh_arrest", "tuoitre_hatinh_followup"
HAGIANG, NGHEAN_DRUGS = "vns_hagiang_rescue", "vns_nghean_drugs"
LAOCAI_BORDER, CAOBANG_VI = "vne_laocai_border", "dantri_caobang_vi"
TODAY = [NGHEAN_VNE, NGHEAN_TT, LAOCAI_EN, LAOCAI_VI, HATINH_FOLLOWUP, HAGIANG, NGHEAN_DRUGS,
         LAOCAI_BORDER, CAOBANG_VI]

SAME_PAIRS = [(NGHEAN_VNE, NGHEAN_TT), (LAOCAI_EN, LAOCAI_VI), (HATINH_EARLIER, HATINH_FOLLOWUP)]
APART_PAIRS = [
    (NGHEAN_VNE, HAGIANG),        # two bride-trafficking rescues, near-identical wording, other province
    (NGHEAN_TT, HAGIANG),
    (NGHEAN_VNE, NGHEAN_DRUGS),   # drug trafficking, same province and same district, same date
    (NGHEAN_TT, NGHEAN_DRUGS),
    (LAOCAI_EN, LAOCAI_BORDER),   # another Lao Cai case the same day, many shared numbers
    (LAOCAI_VI, LAOCAI_BORDER),   # ... and across languages
    (LAOCAI_VI, CAOBANG_VI),      # two Vietnamese trafficking stories
    (CAOBANG_VI, NGHEAN_VNE),     # women sold to China as wives, across languages
    (HATINH_EARLIER, HAGIANG),
    (HATINH_EARLIER, NGHEAN_VNE),
]


@pytest.fixture(scope="module")
def case():
    return {p.stem: load(p.stem) for p in CASES.glob("*.txt")}


def ids(story):
    return [story["lead"]["id"]] + [r["id"] for r in story["related"]]


def earlier_item(item, **extra):
    row = {k: item.get(k) for k in ("id", "title", "published", "sent_day", "story_key", "fingerprint")}
    row.update(extra)
    return row


# --- pairs -------------------------------------------------------------------------------------

@pytest.mark.parametrize("a,b", SAME_PAIRS)
def test_same_story_pairs(case, a, b):
    ok, reason = same_story(case[a]["fingerprint"], case[b]["fingerprint"], days_apart=1)
    assert ok, reason
    assert same_story(case[b]["fingerprint"], case[a]["fingerprint"], days_apart=1)[0]  # symmetric


@pytest.mark.parametrize("a,b", APART_PAIRS)
def test_different_events_stay_apart(case, a, b):
    ok, reason = same_story(case[a]["fingerprint"], case[b]["fingerprint"], days_apart=0)
    assert not ok, reason


def test_apart_pairs_are_hard(case):
    """The apart cases are not trivially apart: they share words, places and numbers, so a
    threshold effectively at zero (or 'same province') would merge them."""
    s = stories.scores
    fp = {k: v["fingerprint"] for k, v in case.items()}
    assert s(fp[NGHEAN_VNE], fp[HAGIANG])["text"] > 0.03         # shared 3-word shingles
    assert s(fp[NGHEAN_VNE], fp[HAGIANG])["title"] >= 0.3        # similar headlines
    drugs = s(fp[NGHEAN_VNE], fp[NGHEAN_DRUGS])
    assert {"nghe an", "tuong duong", "15"} <= set(drugs["shared"]) and drugs["multi_names"] == 2
    border = s(fp[LAOCAI_VI], fp[LAOCAI_BORDER])
    assert {"lao cai", "18", "20", "30", "150"} <= set(border["shared"]) and border["anchors"] >= 0.4


def test_margins(case):
    """Every same-story pair scores above every different-event pair on anchor overlap."""
    fp = {k: v["fingerprint"] for k, v in case.items()}
    same = [stories.scores(fp[a], fp[b])["anchors"] for a, b in SAME_PAIRS]
    apart = [stories.scores(fp[a], fp[b])["anchors"] for a, b in APART_PAIRS]
    assert min(same) > stories.MIN_ANCHOR_OVERLAP > max(apart)
    assert min(same) - max(apart) >= 0.2


def test_cross_language_only_within_two_days(case):
    a, b = case[LAOCAI_EN]["fingerprint"], case[LAOCAI_VI]["fingerprint"]
    assert same_story(a, b, days_apart=2)[0]
    ok, reason = same_story(a, b, days_apart=5)
    assert not ok and "cross-language" in reason


def test_reasons_name_the_evidence(case):
    fp = {k: v["fingerprint"] for k, v in case.items()}
    assert same_story(fp[LAOCAI_EN], fp[LAOCAI_VI], days_apart=0)[1].startswith("cross-language names")
    assert "anchors" in same_story(fp[NGHEAN_VNE], fp[NGHEAN_TT], days_apart=0)[1]


def test_repost_groups_on_text(case):
    """A light edit of an article (one paragraph dropped, one sentence changed) by another outlet
    is caught by the shingles alone, even with names stripped from the fingerprint."""
    src = case[HAGIANG]
    paras = src["text"].split("\n\n")
    edited = "\n\n".join(paras[:3] + paras[4:]).replace("said on Monday", "told reporters")
    a = dict(src["fingerprint"], names=[], numbers=[])
    b = dict(fingerprint("Border guards free five trafficked women", edited, "en"), names=[], numbers=[])
    ok, reason = same_story(a, b, days_apart=0)
    assert ok and reason.startswith("text "), reason
    assert stories.scores(a, b)["text"] >= 0.6


# --- grouping ----------------------------------------------------------------------------------

def test_two_outlets_one_story(case):
    out = group_stories([case[NGHEAN_TT], case[NGHEAN_VNE]], [])
    assert [ids(s) for s in out] == [[2, 1]]
    assert out[0]["key"] == "s2" and out[0]["follow_up_of"] is None


def test_english_and_vietnamese_release_one_story(case):
    out = group_stories([case[LAOCAI_EN], case[LAOCAI_VI]], [])
    assert [ids(s) for s in out] == [[5, 6]]


def test_cross_language_apart_when_published_far_apart(case):
    vi = dict(case[LAOCAI_VI], published="2026-11-10T08:30:00")
    assert [ids(s) for s in group_stories([case[LAOCAI_EN], vi], [])] == [[5], [6]]


def test_full_day_exact_grouping(case):
    out = group_stories([case[n] for n in TODAY], [])
    assert [ids(s) for s in out] == [[1, 2], [5, 6], [9], [3], [4], [8], [7]]
    assert [s["key"] for s in out] == ["s1", "s5", "s9", "s3", "s4", "s8", "s7"]
    assert all(s["follow_up_of"] is None for s in out)


def test_follow_up_two_days_later(case):
    earlier = [earlier_item(case[HATINH_EARLIER])]
    out = group_stories([case[n] for n in TODAY], earlier)
    assert [ids(s) for s in out] == [[1, 2], [5, 6], [9], [3], [4], [8], [7]]
    follow = {s["lead"]["id"]: s["follow_up_of"] for s in out}
    assert follow[9] == {"day": "2026-11-16",
                         "title": "Ha Tinh man arrested for selling two teenage girls to China",
                         "key": "s101"}
    assert [s["key"] for s in out if s["lead"]["id"] == 9] == ["s101"]
    # the other bride-trafficking stories are not follow-ups of the Ha Tinh story
    assert [k for k, v in follow.items() if v] == [9]


def test_follow_up_key_is_the_earlier_story_key(case):
    earlier = [earlier_item(case[HATINH_EARLIER], story_key="s77", sent_day="2026-11-17")]
    (story,) = group_stories([case[HATINH_FOLLOWUP]], earlier)
    assert story["key"] == "s77" and story["follow_up_of"]["day"] == "2026-11-17"


def test_no_follow_up_outside_window(case):
    old = earlier_item(case[HATINH_EARLIER], published="2026-10-01T08:00:00", sent_day="2026-10-01")
    (story,) = group_stories([case[HATINH_FOLLOWUP]], [old])
    assert story["follow_up_of"] is None and story["key"] == "s9"


def test_two_groups_following_the_same_earlier_story_merge(case):
    """Two of today's pieces that do not match each other (Vietnamese version 1 day after the
    English release, an English re-post 4 days after it: cross-language, 3 days apart) but both
    continue one earlier story end up as one story under its key."""
    earlier = [earlier_item(case[LAOCAI_EN], sent_day="2026-11-19", story_key="s5")]
    vi = dict(case[LAOCAI_VI], id=21, published="2026-11-20T08:00:00")
    repost = dict(case[LAOCAI_EN], id=20, published="2026-11-23T08:00:00")
    assert not same_story(vi["fingerprint"], repost["fingerprint"], days_apart=3)[0]
    out = group_stories([repost, case[HAGIANG], vi], earlier)
    assert [ids(s) for s in out] == [[20, 21], [3]]
    assert out[0]["key"] == "s5" and out[0]["follow_up_of"]["key"] == "s5"
    assert out[1]["key"] == "s3" and out[1]["follow_up_of"] is None


def test_grouping_is_transitive(monkeypatch):
    """1~2 and 2~3 but not 1~3: still one story (union-find)."""
    linked = {(1, 2), (2, 3)}

    def fake(a, b, days_apart):
        ok = (a["n"], b["n"]) in linked or (b["n"], a["n"]) in linked
        return ok, "fake", 1.0 if ok else 0.0

    monkeypatch.setattr(stories, "_decide", fake)
    items = [{"id": i, "title": "t", "source": "x", "language": "en", "published": None,
              "fingerprint": {"n": i}} for i in (1, 4, 3, 2)]
    assert [ids(s) for s in group_stories(items, [])] == [[1, 3, 2], [4]]


# --- properties --------------------------------------------------------------------------------

def test_every_item_once_order_preserved_deterministic(case):
    items = [case[n] for n in reversed(TODAY)]
    earlier = [earlier_item(case[HATINH_EARLIER])]
    out = group_stories(items, earlier)
    flat = [i for s in out for i in ids(s)]
    assert sorted(flat) == sorted(i["id"] for i in items)
    position = {item["id"]: k for k, item in enumerate(items)}
    leads = [position[s["lead"]["id"]] for s in out]
    assert leads == sorted(leads)                                    # stories in lead order
    for s in out:                                                    # lead first, related in order
        pos = [position[i] for i in ids(s)]
        assert pos == sorted(pos)
    again = group_stories(items, earlier)
    assert [(s["key"], ids(s)) for s in again] == [(s["key"], ids(s)) for s in out]


def test_fingerprint_json_round_trip_deterministic_and_compact(case):
    item = case[LAOCAI_VI]
    fp = fingerprint(item["title"], item["text"], "vi")
    blob = json.dumps(fp)
    assert len(blob) < 2048
    assert json.loads(blob) == fp == fingerprint(item["title"], item["text"], "vi")
    assert same_story(json.loads(blob), case[LAOCAI_EN]["fingerprint"], days_apart=0)[0]


def test_nfd_input_gives_the_same_fingerprint(case):
    import unicodedata
    item = case[CAOBANG_VI]
    nfd = fingerprint(unicodedata.normalize("NFD", item["title"]), unicodedata.normalize("NFD", item["text"]), "vi")
    assert nfd == item["fingerprint"]


def test_names_are_folded_across_languages(case):
    vi = case[LAOCAI_VI]["fingerprint"]["names"]
    assert {"lao cai", "hoang van duc", "tay ninh", "bao thang"} <= set(vi)
    assert {"1", "500"} <= set(case[LAOCAI_VI]["fingerprint"]["numbers"])   # "1.500 USD"


def test_empty_inputs():
    assert group_stories([], []) == []
    assert group_stories([], [{"id": 1, "title": "x", "published": None, "sent_day": "2026-11-01",
                               "story_key": "s1", "fingerprint": fingerprint("", "", None)}]) == []
    empty = fingerprint("", "", None)
    assert not same_story(empty, empty, days_apart=0)[0]     # two empty texts are not one story
    (story,) = group_stories([{"id": 7, "title": "", "source": "x", "language": None,
                               "published": None, "fingerprint": empty}], [])
    assert story == {"key": "s7", "lead": story["lead"], "related": [], "follow_up_of": None}


# --- the rules one by one, on hand-built fingerprints (a short brief has few anchors, so the
# overlap ratio alone is easily high: the shared-person rule has to hold on its own) -----------

def fp(lang, names, numbers=(), title=()):
    return {"v": 1, "lang": lang, "minhash": [], "title_tokens": list(title),
            "names": list(names), "numbers": list(numbers)}


def test_places_and_numbers_alone_do_not_make_one_story():
    places = ["nghe an", "tuong duong", "nam can"]
    brief = fp("en", places, ["15"], title=["nghe", "an", "police", "trafficking"])
    longer = fp("en", places + ["ky son"], ["15", "7"], title=["nghe", "an", "police", "trafficking"])
    assert stories.scores(brief, longer)["anchors"] == 1.0
    assert same_story(brief, longer, days_apart=0)[0] is False
    assert same_story(fp("vi", places, ["15"]), longer, days_apart=0)[0] is False   # cross-language
    with_person = ["lo van thanh"]
    assert same_story(fp("en", places + with_person, ["15"], title=["nghe", "an", "police"]),
                      fp("en", places + with_person + ["ky son"], ["15", "7"], title=["nghe", "an", "police"]),
                      days_apart=0)[0] is True
    assert same_story(fp("vi", places + with_person, ["15"]),
                      fp("en", places + with_person + ["ky son"], ["15", "7"]), days_apart=0)[0] is True


def test_one_shared_person_is_not_enough_against_many_other_anchors():
    a = fp("en", ["nguyen van lam", "ha tinh"], ["37", "15", "16", "50", "20"], title=["ha", "tinh"])
    b = fp("en", ["nguyen van lam", "ha giang", "meo vac", "dong van", "yunnan"],
           ["41", "5", "10", "24", "60"], title=["ha", "giang"])
    ok, reason = same_story(a, b, days_apart=0)
    assert not ok, reason


def test_few_shared_names_need_textual_support_and_cross_language_needs_three():
    names = ["lo van thanh", "nghe an"]
    a = fp("en", names, ["15", "7"], title=["seven", "women", "rescued", "nghe"])
    b = fp("en", names + ["ky son"], ["15", "7"], title=["nghe", "police", "women", "home"])
    c = fp("en", names + ["ky son"], ["15", "7"], title=["drug", "bust"])
    assert stories.scores(a, b)["anchors"] == stories.scores(a, c)["anchors"] == 1.0
    assert same_story(a, b, days_apart=0)[0] is True      # title 0.33
    assert same_story(a, c, days_apart=0)[0] is False     # no shared title word, no shingles
    assert same_story(fp("vi", names, ["15", "7"]), b, days_apart=0)[0] is False  # 2 names < 3
