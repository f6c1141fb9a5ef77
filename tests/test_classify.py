"""Topic stage: the engine (pipeline/topic/rules.py) and the shipped profile (seeds/topics/trafficking.toml).

Case data lives in tests/topic_cases/*.jsonl, one article per line:
    id, lang, title, text, flagged (exact), and optionally
    terms (exact matched_terms, in order), terms_include, terms_exclude,
    subtopics (exact, in order), countries (exact, in order), note.
"""
from __future__ import annotations

import dataclasses
import json
import unicodedata
from pathlib import Path

import pytest

from pipeline.topic.rules import ProfileError, classify, explain, load_profile

HERE = Path(__file__).parent
CASES_DIR = HERE / "topic_cases"
REPO = HERE.parent
DEFAULT_PROFILE = REPO / "seeds" / "topics" / "trafficking.toml"  # the shipped profile
SEEDS = [p for d in (Path("/work/shared/seeds"), REPO / "seeds" / "corpus") if d.is_dir()
         for p in sorted(d.glob("*.txt"))]


def _cases() -> list[dict]:
    out = []
    for path in sorted(CASES_DIR.glob("*.jsonl")):
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if line.strip():
                case = json.loads(line)
                case.setdefault("id", f"{path.stem}:{n}")
                out.append(case)
    return out


CASES = _cases()


@pytest.fixture(scope="module")
def profile():
    return load_profile(DEFAULT_PROFILE)


def run(profile, title="", text="", language=None):
    return classify(profile, title=title, text=text, language=language)


def write_profile(tmp_path, body: str, name: str = "p.toml") -> Path:
    path = tmp_path / name
    path.write_text(body, encoding="utf-8")
    return path


MINI = """
[profile]
name = "mini"
threshold = 3.0
[[rule]]
name = "core"
weight = 3.0
terms.vi = ["mua bán người"]
terms.en = ["human trafficking"]
"""


# --------------------------------------------------------------------------- the case corpus


def test_case_corpus_is_balanced():
    assert len(CASES) >= 40
    langs = {c["lang"] for c in CASES}
    assert langs == {"en", "vi"}
    negatives = sum(not c["flagged"] for c in CASES)
    assert 0.4 <= negatives / len(CASES) <= 0.6
    assert len({c["id"] for c in CASES}) == len(CASES)


@pytest.mark.parametrize("case", CASES, ids=[c["id"] for c in CASES])
def test_case(profile, case):
    r = run(profile, case["title"], case["text"], case["lang"])
    detail = explain(profile, title=case["title"], text=case["text"], language=case["lang"])
    assert r["flagged"] is case["flagged"], (r["score"], detail["hits"])
    if "terms" in case:
        assert r["matched_terms"] == case["terms"]
    for term in case.get("terms_include", []):
        assert term in r["matched_terms"]
    for term in case.get("terms_exclude", []):
        assert term not in r["matched_terms"]
    if "subtopics" in case:
        assert r["subtopics"] == case["subtopics"]
    if "countries" in case:
        assert r["countries"] == case["countries"]
    if case["flagged"]:
        assert r["snippet"]
    else:
        assert r["score"] < profile.threshold


# --------------------------------------------------------------------------- seeds


def _seed(path: Path) -> tuple[str, str]:
    lines = [ln.strip() for ln in path.read_text(encoding="utf-8").splitlines() if ln.strip()]
    title = lines[1] if path.name.startswith("000_") else ""
    return title, "\n".join(lines)


@pytest.mark.parametrize("path", SEEDS, ids=[p.name for p in SEEDS])
def test_seed_articles_are_flagged(profile, path):
    title, text = _seed(path)
    r = run(profile, title, text, "en")
    assert r["flagged"]
    assert r["matched_terms"][0] == "human trafficking"
    assert "policy / law / cooperation" in r["subtopics"]
    assert r["countries"][0] == "Viet Nam"


def test_seed_000_title_alone_is_flagged(profile):
    r = run(profile, "Mekong countries discuss strategies to stop trafficking", "", "en")
    assert r["flagged"] and r["matched_terms"] == ["trafficking"]
    assert r["snippet"] == "Mekong countries discuss strategies to stop trafficking"


def test_there_are_seeds():
    assert len(SEEDS) >= 2


# --------------------------------------------------------------------------- normalisation


def test_nfd_input_matches_like_nfc(profile):
    title = "Khởi tố đối tượng mua bán người"
    text = ("Công an tỉnh An Giang đã khởi tố bị can về tội mua bán người, "
            "đưa 4 thanh niên sang Campuchia rồi bán cho một công ty.")
    nfc = run(profile, title, text, "vi")
    nfd = run(profile, unicodedata.normalize("NFD", title), unicodedata.normalize("NFD", text), "vi")
    assert nfc["flagged"] and nfd == nfc
    assert "mua bán người" in nfd["matched_terms"]


def test_nfd_profile_terms_match_nfc_text(tmp_path):
    p = load_profile(write_profile(tmp_path, unicodedata.normalize("NFD", MINI)))
    r = run(p, "", "Tội mua bán người gia tăng.", "vi")
    assert r["flagged"] and r["matched_terms"] == ["mua bán người"]


def test_case_insensitive(profile):
    r = run(profile, "", "HUMAN TRAFFICKING and MUA BÁN NGƯỜI are the same crime.", None)
    assert r["matched_terms"][:2] == ["human trafficking", "mua bán người"]


def test_accent_free_text_does_not_match_vietnamese_terms(profile):
    r = run(profile, "Khoi to doi tuong mua ban nguoi",
            "Cong an tinh An Giang da khoi to bi can ve toi mua ban nguoi, lua ban phu nu "
            "sang Trung Quoc, bi lua sang Campuchia.", "vi")
    assert r == {**r, "flagged": False, "score": 0.0, "matched_terms": []}


def test_accent_insensitive_rule_opt_in(tmp_path):
    p = load_profile(write_profile(tmp_path, MINI.replace('name = "core"',
                                                          'name = "core"\naccent_insensitive = true')))
    for text in ("toi mua ban nguoi", "tội mua bán người", "TỘI MUA BAN NGƯỜI"):
        r = run(p, "", text, "vi")
        assert r["flagged"], text
    # still whole words
    assert not run(p, "", "mua bannguoi", "vi")["flagged"]


def test_old_and_new_tone_placement_match(tmp_path):
    p = load_profile(write_profile(tmp_path, MINI.replace('"mua bán người"', '"thuỷ thủ bị ép"')))
    assert run(p, "", "Các thủy thủ bị ép làm việc.", "vi")["flagged"]
    assert run(p, "", "Các thuỷ thủ bị ép làm việc.", "vi")["flagged"]


def test_word_boundaries(profile):
    assert run(profile, "", "Traffic in Hanoi was heavy; traffickers were not involved.", "en")[
        "matched_terms"] == ["traffickers"]
    assert run(profile, "", "Hanoi traffic police fined 300 drivers.", "en")["matched_terms"] == []
    # a Vietnamese phrase matches only as a whole phrase, not across a sentence break
    assert run(profile, "", "Họ đi mua bán. Người dân cho biết giá tăng.", "vi")["matched_terms"] == []
    # ... nor across a comma the term does not have
    assert run(profile, "", "Chợ mua bán, người dân đông đúc.", "vi")["matched_terms"] == []


def test_comma_in_term_is_optional_in_text(profile):
    for text in ("Hội nghị phòng, chống mua bán người.", "Hội nghị phòng chống mua bán người."):
        r = run(profile, "", text, "vi")
        assert r["matched_terms"][0] in ("phòng, chống mua bán người", "phòng chống mua bán người")


def test_hyphen_equals_space(profile):
    r = run(profile, "", "An anti-human-trafficking network was launched.", "en")
    assert r["matched_terms"] == ["anti-human-trafficking"]


# --------------------------------------------------------------------------- scoring semantics


def test_title_weighs_more(profile):
    body = run(profile, "", "Officials discussed ways to stop trafficking.", "en")
    title = run(profile, "Officials discuss ways to stop trafficking", "", "en")
    assert title["score"] == 2 * body["score"]
    assert title["flagged"] and not body["flagged"]


def test_drug_trafficking_is_local_not_a_document_veto(profile):
    drug = "Police seized 20kg of heroin in a drug trafficking case in Son La."
    tip = "The same ring was also charged with human trafficking after selling two women to China."
    assert not run(profile, "", drug, "en")["flagged"]
    r = run(profile, "", drug + " " + tip, "en")
    assert r["flagged"] and "drug trafficking" not in r["matched_terms"]
    assert r["matched_terms"][0] == "human trafficking"


def test_qualified_trafficking_is_not_human_trafficking(profile):
    for text in ("He was convicted of trafficking heroin across the border.",
                 "The network was trafficking pangolin scales and ivory.",
                 "Arms traffickers were arrested.",
                 "Wildlife trafficking remains rampant."):
        r = run(profile, text, text, "en")
        assert r["score"] == 0 and not r["flagged"], text


def test_elliptical_human_and_drug_trafficking(profile):
    r = run(profile, "", "The province is a hotspot for human and drug trafficking.", "en")
    assert r["flagged"] and r["matched_terms"] == ["human and drug trafficking"]


def test_repeats_decay_and_are_capped(profile):
    one = run(profile, "", "Human trafficking.", "en")["score"]
    many = run(profile, "", " ".join(["Human trafficking."] * 20), "en")["score"]
    assert one == 3.0
    assert many == pytest.approx(3.0 + 1.5 + 0.75 + 0.375)


def test_weak_evidence_never_flags_alone(profile):
    text = ("Border guards arrested a man for organising illegal exit (xuất cảnh trái phép) "
            "and people smuggling. ") * 5
    r = run(profile, "People smuggling ring busted", text, "en")
    assert not r["flagged"] and 0 < r["score"] <= 2.0


def test_lured_needs_destination_after_it(profile):
    assert run(profile, "", "They were lured to Cambodia by a friend.", "en")["matched_terms"] == ["lured"]
    assert run(profile, "", "Scammers in Cambodia lured victims online.", "en")["matched_terms"] == []


def test_snippet_is_around_strongest_body_match(profile):
    filler = "The weather in the province was mild and markets were busy that week. " * 8
    text = filler + "Police said the woman was a victim of human trafficking in Cambodia. " + filler
    r = run(profile, "Weather report", text, "en")
    s = r["snippet"]
    assert "human trafficking" in s
    assert s.startswith("…") and s.endswith("…")
    assert 150 <= len(s) <= 320
    assert "  " not in s and "\n" not in s


def test_snippet_when_nothing_matches_is_the_lead(profile):
    r = run(profile, "Markets", "Rice prices rose.\n\nTraders   were happy.", "en")
    assert r["snippet"] == "Rice prices rose. Traders were happy."
    assert r["subtopics"] == []


def test_result_shape(profile):
    r = run(profile, "", "Human trafficking in Cambodia.", "en")
    assert set(r) == {"score", "flagged", "rules", "matched_terms", "snippet", "subtopics", "countries",
                      "profile_version"}
    assert r["rules"] == {"tip-core": 3.0}
    assert isinstance(r["score"], float) and isinstance(r["flagged"], bool)
    assert r["profile_version"].startswith("trafficking@") and len(r["profile_version"]) == 12 + 12
    assert r["countries"] == ["Cambodia"]


def test_matched_terms_distinct_strongest_first(profile):
    r = run(profile, "Trafficking", "Trafficking. Human trafficking. Human trafficking. "
                                     "Sex trafficking.", "en")
    # ties on the strongest single hit (3.0) are broken by total evidence
    assert r["matched_terms"] == ["human trafficking", "trafficking", "sex trafficking"]
    assert r["subtopics"] == ["sexual exploitation"]


def test_commit_acronym_is_case_sensitive(profile):
    assert run(profile, "", "Members of COMMIT met in Bangkok.", "en")["matched_terms"] == ["commit"]
    assert run(profile, "", "They commit crimes in Bangkok.", "en")["matched_terms"] == []


def test_lao_cai_is_not_laos(profile):
    assert run(profile, "", "Tỉnh Lào Cai giáp Trung Quốc.", "vi")["countries"] == ["China"]
    assert run(profile, "", "Công dân Lào và Việt Nam.", "vi")["countries"] == ["Viet Nam", "Laos"]


def test_language_declared_mode(tmp_path):
    p = load_profile(write_profile(tmp_path, MINI.replace('threshold = 3.0',
                                                          'threshold = 3.0\nlanguages = "declared"')))
    text = "Human trafficking; mua bán người."
    assert run(p, "", text, "en")["matched_terms"] == ["human trafficking"]
    assert run(p, "", text, "vi-VN")["matched_terms"] == ["mua bán người"]
    assert run(p, "", text, None)["matched_terms"] == ["human trafficking", "mua bán người"]
    # shipped profile tries every language: a mislabelled page is still caught
    shipped = load_profile(DEFAULT_PROFILE)
    assert run(shipped, "", "Tội mua bán người.", "en")["flagged"]


def test_unsegmented_scripts_match_as_substrings(tmp_path):
    p = load_profile(write_profile(tmp_path, MINI.replace(
        'terms.en = ["human trafficking"]', 'terms.en = ["human trafficking"]\n'
        'terms.th = ["การค้ามนุษย์"]\nterms.zh = ["拐卖妇女"]')))
    assert run(p, "", "ตำรวจจับกุมผู้ต้องหาคดีการค้ามนุษย์ที่ชายแดน", "th")["flagged"]
    assert run(p, "", "警方破获一起拐卖妇女案", "zh")["flagged"]
    assert not run(p, "", "警方破获一起贩毒案", "zh")["flagged"]


def test_proximity_window_and_order(tmp_path):
    p = load_profile(write_profile(tmp_path, """
[profile]
threshold = 1
[[rule]]
name = "lured"
weight = 1
terms = ["lured"]
near.en = ["cambodia"]
near.window = 2
near.order = "after"
"""))
    assert run(p, "", "lured to Cambodia", None)["flagged"]
    assert run(p, "", "lured by friends to Cambodia", None)["flagged"] is False  # 3 words between
    assert run(p, "", "Cambodia lured", None)["flagged"] is False  # wrong side
    assert run(p, "", "lured. Cambodia", None)["flagged"] is False  # other sentence


def test_not_near_and_zero_weight_claims(tmp_path):
    p = load_profile(write_profile(tmp_path, """
[profile]
threshold = 1
[[rule]]
name = "bare"
weight = 1
terms = ["traffick*"]
not_near = { en = ["heroin"], window = 2 }
[[rule]]
name = "drug"
weight = 0
terms = ["drug trafficking"]
"""))
    assert run(p, "", "trafficking", None)["flagged"]
    assert not run(p, "", "drug trafficking", None)["flagged"]
    assert not run(p, "", "trafficking of heroin", None)["flagged"]
    assert run(p, "", "trafficking. Heroin", None)["flagged"]  # exclusion is per sentence


def test_profile_is_immutable_and_classify_pure(profile):
    with pytest.raises(dataclasses.FrozenInstanceError):
        profile.threshold = 0  # type: ignore[misc]
    args = dict(title="Human trafficking", text="Victims of trafficking were rescued.", language="en")
    assert classify(profile, **args) == classify(profile, **args)


# --------------------------------------------------------------------------- malformed profiles


@pytest.mark.parametrize("body, message", [
    ('[profile]\nthreshold = 3\n[[rule]]\nname = "core"\nweight = "high"\nterms = ["x"]\n',
     "rule 'core': key 'weight' must be a number"),
    ('[profile]\nthreshold = 3\n[[rule]]\nname = "core"\nterms = ["x"]\n',
     "rule 'core': key 'weight' is required"),
    ('[profile]\nthreshold = 3\n[[rule]]\nname = "core"\nweight = 1\nterms.xx = ["x"]\n',
     "rule 'core': key 'terms.xx' is not a known language"),
    ('[profile]\nthreshold = 3\n[[rule]]\nname = "core"\nweight = 1\nterms = ["x"]\nwieght = 2\n',
     "rule 'core': key 'wieght' is not a known key"),
    ('[profile]\nthreshold = 3\n[[rule]]\nname = "core"\nweight = 1\nterms = []\n',
     "rule 'core': key 'terms' lists no terms"),
    ('[profile]\nthreshold = 3\n[[rule]]\nname = "core"\nweight = 1\nterms = ["x"]\n'
     'near.en = ["y"]\nnear.window = -1\n', "rule 'core': key 'near.window' must be an integer"),
    ('[profile]\nthreshold = 3\n[[rule]]\nname = "core"\nweight = 1\nterms = ["x"]\n'
     'near.en = ["y"]\nnear.order = "sideways"\n', "rule 'core': key 'near.order'"),
    ('[profile]\nthreshold = 3\n[[rule]]\nname = "core"\nweight = 1\nterms = ["x*y"]\n',
     "rule 'core': key 'terms.any' term 'x*y': '*' only ends a term"),
    ('[profile]\nthreshold = 3\n[[rule]]\nname = "core"\nweight = 1\nterms = ["a. b"]\n',
     "rule 'core': key 'terms.any' term 'a. b' spans a sentence break"),
    ('[profile]\nthreshold = 3\n[[rule]]\nname = "core"\nweight = 1\nterms = [3]\n',
     "rule 'core': key 'terms.any' must hold non-empty strings"),
    ('[profile]\nthreshold = 3\n[[rule]]\nname = "a"\nweight = 1\nterms = ["x"]\n'
     '[[rule]]\nname = "a"\nweight = 1\nterms = ["y"]\n', "rule 'a': key 'name' is used twice"),
    ('[profile]\nthreshold = 3\n[[rule]]\nweight = 1\nterms = ["x"]\n',
     "rule #1: key 'name' is required"),
    ('[profile]\nthreshold = 3\n[[rule]]\nname = "r"\nweight = 1\nterms = ["x"]\n'
     '[[country]]\nname = "Laos"\nterms = ["laos"]\nweight = 2\n',
     "country 'Laos': key 'weight' is not a known key"),
    ('[profile]\nthreshold = 3\n[[rule]]\nname = "r"\nweight = 1\nterms = ["x"]\n'
     'accent_insensitive = "yes"\n', "rule 'r': key 'accent_insensitive' must be true or false"),
    ('[profile]\n[[rule]]\nname = "r"\nweight = 1\nterms = ["x"]\n',
     "profile: key 'threshold' is required"),
    ('[profile]\nthreshold = 3\n', "at least one [[rule]]"),
    ('[profile]\nthreshold = 3\n[fields]\nheadline = 2\n[[rule]]\nname = "r"\nweight = 1\nterms = ["x"]\n',
     "fields: key 'headline'"),
    ('[profile\nthreshold = 3\n', "invalid TOML"),
])
def test_malformed_profiles_name_rule_and_key(tmp_path, body, message):
    with pytest.raises(ProfileError) as err:
        load_profile(write_profile(tmp_path, body))
    assert message in str(err.value)


def test_missing_profile_file(tmp_path):
    with pytest.raises(ProfileError, match="cannot read"):
        load_profile(tmp_path / "nope.toml")


def test_profile_version_tracks_file_content(tmp_path):
    a = load_profile(write_profile(tmp_path, MINI, "a.toml"))
    b = load_profile(write_profile(tmp_path, MINI + "\n# edited\n", "b.toml"))
    assert a.version.startswith("mini@") and a.version != b.version


def test_shipped_profile_loads_and_has_structure(profile):
    assert profile.name == "trafficking"
    assert profile.threshold == 3.0
    assert dict(profile.field_weights) == {"title": 2.0, "body": 1.0}
    subtopics = {t.name for t in profile.tags if t.kind == "subtopic"}
    assert subtopics == {"sexual exploitation", "forced labour", "scam compounds / forced criminality",
                         "child or baby trafficking", "bride trafficking", "organ trafficking",
                         "policy / law / cooperation", "arrest / prosecution / rescue"}
    countries = {t.name for t in profile.tags if t.kind == "country"}
    assert {"Viet Nam", "Cambodia", "Laos", "Thailand", "Myanmar", "China", "Malaysia",
            "Philippines", "Indonesia"} <= countries


# ---------------------------------------------------------------------------- issue 16: real-news phrasings

FILLER = " ".join(["The council met on Monday to discuss the budget for the coming year."] * 12)


def test_a_passing_mention_late_in_a_story_counts_half(profile):
    late = f"{FILLER} Campaigners warned of human trafficking."
    result = run(profile, title="Council debates budget", text=late, language="en")
    assert not result["flagged"] and result["score"] == 1.5
    assert result["rules"] == {"tip-core": 3.0, "(passing mention)": -1.5}
    # in the lead, in the title, or twice: the story is about it
    lead = f"Campaigners warned of human trafficking. {FILLER}"
    assert run(profile, title="Council debates budget", text=lead, language="en")["flagged"]
    assert run(profile, title="Human trafficking on the agenda", text=late, language="en")["flagged"]
    twice = f"{FILLER} Campaigners warned of human trafficking. Victims of trafficking spoke."
    assert run(profile, title="Council debates budget", text=twice, language="en")["flagged"]


def test_passing_mention_keys_are_validated(tmp_path):
    body = MINI.replace('threshold = 3.0', 'threshold = 3.0\npassing_mention = 1.5')
    with pytest.raises(ProfileError, match="passing_mention"):
        load_profile(write_profile(tmp_path, body))
    off = load_profile(write_profile(tmp_path, MINI, "off.toml"))
    assert off.passing_mention == 1.0  # off unless the profile asks for it


@pytest.mark.parametrize("lang, title, text", [
    ("vi", "Cô dâu Việt bị chồng đẩy vào nhà chứa ở nước ngoài",
     "Sau đám cưới hai tháng, người chồng bắt cô làm tiếp viên tại một quán karaoke rồi đẩy vào lầu xanh."),
    ("en", "Fishermen freed", "The men said they were kept as slaves on a trawler and were not allowed to leave."),
    ("en", "Victims return", "Twelve young men said they were forced to scam strangers online for a gang."),
    ("vi", "Giải cứu nạn nhân", "Ba thanh niên cho biết họ bị ép lừa đảo qua mạng suốt nhiều tháng."),
])
def test_stories_told_without_the_word_trafficking(profile, lang, title, text):
    assert run(profile, title=title, text=text, language=lang)["flagged"]


@pytest.mark.parametrize("lang, title, text", [
    ("en", "Retirement rules", "Staff would not be forced to work longer than they wished, the minister said."),
    ("en", "Coast guard", "A fishing boat was held by the coast guard near the islands for two days."),
    ("vi", "Khó khăn", "Ông kể thời trẻ nghèo đến mức phải bán vợ đợ con cũng không đủ ăn."),
])
def test_idioms_are_not_trafficking(profile, lang, title, text):
    assert not run(profile, title=title, text=text, language=lang)["flagged"]
