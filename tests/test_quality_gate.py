"""Quality gate: the topic stage on the held-out test split, per language, through `tipwatch eval`.

The test split is for scoring only: rules and the [model] policy are tuned on the training split,
cross-validation and the real news stream (scripts/tune_policy.py, bench/topic_stream.py), never
on these figures. A floor sits at least one item below what was measured (one more false alarm
for precision, one more miss for recall, rounded down to 3 decimals), so a floor is never the
measured value itself, and exactly that: a floor lowered in place fails, as does one left behind
when the figures improve.

Floors are tied to the profile and the base model they were measured with: LEDGER is append-only.
A changed profile or training split needs a new entry (measure, then append); within one
profile version a floor may only rise. The issue's bar (0.95 per language, on real news) is a
target `tipwatch eval` reports with its Wilson interval, not a floor: on 42 positives a language
cannot show 0.95 with confidence anyway (40/42 has a 95% interval of 0.84-0.99).
"""
import json
import math
from itertools import pairwise

import pytest

from pipeline.topic import labelled
from pipeline.topic.rules import load_profile

from conftest import REPO, SEEDS, model_files, tipwatch

LABELLED_DIR = SEEDS / "labelled"

MODES = ("combined", "rules-only")
# (profile version, base model version, floors[mode][lang][figure]); append, never edit.
LEDGER = [
    # issue 16: passing mentions discounted, evidence 2.0 for a rescue, near-duplicate training
    # items removed. Measured (both modes): en P 37/37 R 37/42; vi P 39/40 R 39/42.
    ("trafficking@567b76799353", "m8bb6b522336", {
        mode: {"en": {"precision": 0.973, "recall": 0.857}, "vi": {"precision": 0.951, "recall": 0.904}}
        for mode in MODES}),
]
TEST_SPLIT = {lang: REPO / "seeds" / "labelled" / f"{lang}-test.jsonl" for lang in ("en", "vi")}


def _measure(tmp_path, lang: str, mode: str) -> dict:
    args = ["eval", TEST_SPLIT[lang], "--db", tmp_path / "none.db"] + (["--rules-only"] if mode == "rules-only" else [])
    return json.loads(tipwatch(*args).stdout)


def test_held_out_split_is_large_balanced_and_unseen():
    for path in TEST_SPLIT.values():
        rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
        assert len(rows) >= 80 and 0.4 <= sum(r["label"] for r in rows) / len(rows) <= 0.6
    negatives = [json.loads(line) for path in REPO.glob("seeds/labelled/*.jsonl")
                 for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    hard = [r for r in negatives if r["label"] == 0 and r["kind"] != "general"]
    assert len(negatives) >= 300 and len(hard) / len(negatives) >= 0.4


def test_no_test_item_retells_a_training_item():
    """Not only copied text: the same event in other words (shared rare names and figures)."""
    pairs = labelled.near_duplicates(labelled.shipped("test", LABELLED_DIR), labelled.shipped("train", LABELLED_DIR))
    assert pairs == [], f"test items that retell training items (move or drop one of each): {pairs}"


def test_near_duplicate_check_sees_retellings_not_just_prefixes():
    base = labelled.Example(id="t1", lang="en", title="Police free 14 women from Bangkok massage parlour",
                            text="The Department of Special Investigation freed 14 women, three of them "
                                 "minors, from a parlour in Huai Khwang district on Tuesday.")
    retold = labelled.Example(id="r1", lang="en", title="Fourteen rescued in raid",
                              text="In a raid in Huai Khwang district, officers of the Department of "
                                   "Special Investigation found the women, 14 in all.")
    other = labelled.Example(id="o1", lang="en", title="Rain floods Hanoi streets",
                             text="Heavy rain flooded 14 streets in Hanoi on Tuesday.")
    found = labelled.near_duplicates([base], [retold, other])
    assert [(p["held_out"], p["train"]) for p in found] == [("t1", "r1")]
    assert "huai khwang" in " ".join(found[0]["shared"])
    assert base.text[:200] not in retold.text  # the old prefix check would have let it through


def test_ledger_is_append_only_and_pinned_to_this_profile():
    profile = load_profile(REPO / "seeds" / "topics" / "trafficking.toml")
    version, _, _ = LEDGER[-1]
    assert version == profile.version, (
        f"the profile is now {profile.version}: measure the test split and append a LEDGER entry "
        f"(floors may go down only with a new profile version)")
    for (v1, _m1, old), (v2, _m2, new) in pairwise(LEDGER):
        if v1 == v2:
            for mode in MODES:
                for lang, floors in old[mode].items():
                    for name, floor in floors.items():
                        assert new[mode][lang][name] >= floor, f"{v2} lowered {mode} {lang} {name}"


def test_base_model_is_the_one_measured():
    from pipeline.topic.model import load
    from pipeline.topic.training import base_model_path

    assert load(base_model_path(model_files())).version == LEDGER[-1][1], (
        "the training split changed the base model: measure and append a LEDGER entry")


@pytest.mark.parametrize("lang", sorted(TEST_SPLIT))
@pytest.mark.parametrize("mode", MODES)
def test_quality_floors(tmp_path, lang, mode):
    figures = _measure(tmp_path, lang, mode)["by_lang"][lang]
    floors = LEDGER[-1][2][mode][lang]
    tp, fp, fn = figures["tp"], figures["fp"], figures["fn"]
    one_item_worse = {"precision": tp / (tp + fp + 1), "recall": (tp - 1) / (tp + fn)}
    for name, floor in floors.items():
        assert figures[name] >= floor, f"{lang} {mode} {name} {figures[name]} fell below its floor {floor}"
        # exactly one item of headroom (rounded down): a floor at the measured value would fail on
        # the first changed item, and a floor edited lower in place (same profile) fails here
        pinned = math.floor(one_item_worse[name] * 1000) / 1000
        assert floor == pinned, (f"{lang} {mode} {name}: floor {floor}, but one item below the measured "
                                 f"{figures[name]} is {pinned}; re-pin it in a new LEDGER entry")
