"""The trained model, the combined decision, and the commands around them:
`tipwatch eval`, `label`, `train`, `classify --all`, `rules test`."""
import json

import pytest

from pipeline import store
from pipeline.topic import labelled, model
from pipeline.topic.rules import ModelPolicy, load_profile
from pipeline.topic.stage import TopicStage, decide

from conftest import REPO, article, tipwatch

POLICY = ModelPolicy(use=True, rescue=0.85, evidence=1.0, veto=0.1, strong=6.0)


def test_shipped_policy_is_the_default():
    assert load_profile(REPO / "seeds/topics/trafficking.toml").model == ModelPolicy()


@pytest.mark.parametrize("score, probability, flagged, reason", [
    (0.0, None, False, "rules 0 < threshold 3"),
    (3.0, None, True, "rules 3 ≥ threshold 3"),
    (4.5, 0.6, True, "rules 4.5 ≥ threshold 3; model 0.60"),
    (4.5, 0.05, False, "rules 4.5 ≥ threshold 3, but model 0.05 < veto 0.1"),
    (7.0, 0.05, True, "rules 7 ≥ threshold 3; model 0.05"),  # strong rules are never vetoed
    (2.0, 0.9, True, "rules 2 < threshold 3, but model 0.90 ≥ rescue 0.85"),
    (0.5, 0.99, False, "rules 0.5 < threshold 3; model 0.99"),  # no evidence at all: no rescue
    (2.0, 0.8, False, "rules 2 < threshold 3; model 0.80"),
])
def test_decide(score, probability, flagged, reason):
    assert decide(score, 3.0, probability, POLICY) == (flagged, reason)


def test_model_policy_errors_name_the_key(tmp_path):
    from pipeline.topic.rules import ProfileError

    text = (REPO / "seeds/topics/trafficking.toml").read_text(encoding="utf-8")
    bad = tmp_path / "p.toml"
    bad.write_text(text.replace("\nrescue = 0.65\n", "\nrescue = 1.5\n"), encoding="utf-8")
    with pytest.raises(ProfileError, match="model: key 'rescue' is a probability"):
        load_profile(bad)
    bad.write_text(text.replace("\nveto = 0.1\n", "\nveto_below = 0.1\n"), encoding="utf-8")
    with pytest.raises(ProfileError, match="model: key 'veto_below' is not a known key"):
        load_profile(bad)


def write_jsonl(path, rows):
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    return path


def test_read_jsonl_validates_each_line(tmp_path):
    good = write_jsonl(tmp_path / "a.jsonl", [{"text": "Nạn nhân bị mua bán sang Trung Quốc", "label": "1"},
                                              {"text": "Police seized heroin.", "label": False, "id": "x"}])
    rows = labelled.read_jsonl(good)
    assert [(r.id, r.lang, r.label) for r in rows] == [("1", "vi", 1), ("x", "en", 0)]
    for line, message in [('{"label": 1}', "'text' is required"),
                          ('{"text": "a", "label": 2}', "'label' must be 0 or 1"),
                          ("not json", "not JSON"), ("[1]", "must be a JSON object")]:
        (tmp_path / "b.jsonl").write_text('{"text": "ok"}\n' + line + "\n", encoding="utf-8")
        with pytest.raises(labelled.LabelledError, match=f"b.jsonl:2: .*{message}"):
            labelled.read_jsonl(tmp_path / "b.jsonl")


def test_guess_language():
    assert labelled.guess_language("Công an tỉnh Nghệ An giải cứu ba phụ nữ") == "vi"
    assert labelled.guess_language("Police in Nghệ An rescued three women from a brothel in China") == "en"
    assert labelled.guess_language("การค้ามนุษย์ในประเทศไทย") == "th"
    assert labelled.guess_language("1234 !!") == "und"


def small_set():
    rows = []
    for i in range(12):
        rows.append(labelled.Example(id=f"p{i}", title="Women trafficked to brothels", label=1, lang="en",
                                     text=f"Police rescued {i + 2} women sold to brothels across the border."))
        rows.append(labelled.Example(id=f"n{i}", title="Heroin seized at border", label=0, lang="en",
                                     text=f"Police seized {i + 2} kilograms of heroin from drug traffickers."))
    return rows


def test_model_is_deterministic_and_round_trips(tmp_path):
    first, second = model.train(small_set()), model.train(small_set())
    assert first.version == second.version and first.version.startswith("m")
    path = model.save(first, tmp_path / "m.json.gz")
    loaded = model.load(path)
    docs = [("Girls sold to a brothel", "They were rescued by police."), ("Heroin haul", "Drug traffickers held.")]
    # weights are stored to 6 decimals
    assert loaded.probabilities(docs) == pytest.approx(first.probabilities(docs), abs=1e-5)
    assert model.save(second, tmp_path / "again.json.gz").read_bytes() == path.read_bytes()
    high, low = loaded.probabilities(docs)
    assert high > 0.5 > low
    assert model.train(small_set()[:-1]).version != first.version  # other data, other version


def test_pure_python_scoring_equals_scikit_learn():
    fitted = model.fit(small_set())
    ours = model.from_estimator("m-test", fitted)
    docs = [("Girls sold to a brothel", "They were rescued by police in Lào Cai."), ("Heroin haul", "x"),
            ("", "Police seized  heroin\n\nfrom drug traffickers: a b c"), ("", "")]
    expected = fitted.predict_proba([model.model_text(t, x) for t, x in docs])[:, 1]
    assert ours.probabilities(docs) == pytest.approx(list(expected), abs=1e-9)


def test_model_errors(tmp_path):
    with pytest.raises(model.ModelError, match="both labels"):
        model.train([ex for ex in small_set() if ex.label == 1])
    (tmp_path / "broken.json.gz").write_bytes(b"not a model")
    with pytest.raises(model.ModelError, match="broken.json.gz: cannot load"):
        model.load(tmp_path / "broken.json.gz")


def test_stage_explains_each_decision():
    stage = TopicStage(load_profile(REPO / "seeds/topics/trafficking.toml"), model.train(small_set()))
    result = stage.classify(title="", text="Police said the women were trafficked.", language="en")
    assert result["flagged"] is True and 0 < result["score"] < 6 and result["rules"]
    assert 0 <= result["probability"] <= 1 and result["model_version"] == stage.model.version
    assert result["reason"].startswith("rules ") and "model 0." in result["reason"]
    # outside the margin where it could change the decision, the model is not consulted
    for title, text in [("Human trafficking ring busted", "Human trafficking. " * 3), ("Weather", "Rain.")]:
        result = stage.classify(title=title, text=text, language="en")
        assert result["probability"] is None and result["model_version"] is None
        assert "model" not in result["reason"]


EVAL_ROWS = [
    {"id": "a", "lang": "en", "kind": "tip", "label": 1, "title": "Human trafficking ring busted in Nghe An",
     "text": "Police rescued five women who had been trafficked to China and sold as brides."},
    {"id": "b", "lang": "en", "kind": "drugs", "label": 0, "title": "Border guards seize heroin",
     "text": "Two drug traffickers were arrested with 20 kilograms of heroin."},
    {"id": "c", "lang": "vi", "kind": "tip", "label": 1, "title": "Giải cứu nạn nhân bị mua bán người",
     "text": "Công an đã giải cứu ba phụ nữ bị mua bán người sang Trung Quốc."},
    {"id": "d", "kind": "tip", "label": 1, "title": "Weather",
     "text": "Heavy rain is forecast in the north this week."},
]


@pytest.mark.parametrize("successes, trials, interval", [
    (0, 0, None), (0, 10, [0.0, 0.2775]), (10, 10, [0.7225, 1.0]), (40, 42, [0.8421, 0.9868]),
    (1, 994, [0.0002, 0.0057]), (500, 1000, [0.4691, 0.5309]),
])
def test_wilson_interval(successes, trials, interval):
    from pipeline.topic.evaluate import wilson

    assert wilson(successes, trials) == interval


def test_false_alarms_per_1000_counts_negatives_only():
    from pipeline.topic.evaluate import metrics

    rows = [labelled.Example(id=str(i), text="x", label=int(i < 5)) for i in range(2005)]
    flags = [i < 4 or i in (100, 101) for i in range(2005)]  # 4 of 5 positives, 2 of 2,000 negatives
    report = metrics(rows, flags)
    assert (report["fp"], report["tn"], report["false_alarms_per_1000"]) == (2, 1998, 1.0)
    assert report["false_alarms_per_1000_ci95"] == [0.27, 3.64]
    assert metrics(rows[:5], flags[:5])["false_alarms_per_1000"] is None  # no negatives: undefined


def test_eval_prints_figures_by_language_and_kind(tmp_path):
    data = write_jsonl(tmp_path / "set.jsonl", EVAL_ROWS)
    result = tipwatch("eval", data, "--errors", "--db", tmp_path / "none.db")
    report = json.loads(result.stdout)
    assert {k: report[k] for k in ("tp", "fp", "fn", "tn", "n")} == {"tp": 2, "fp": 0, "fn": 1, "tn": 1, "n": 4}
    assert (report["precision"], report["recall"], report["f1"]) == (1.0, 0.6667, 0.8)
    assert set(report["by_lang"]) == {"en", "vi"} and report["by_lang"]["vi"]["tp"] == 1
    assert report["by_kind"]["drugs"] == {"precision": None, "recall": None, "f1": None,
                                          "tp": 0, "fp": 0, "fn": 0, "tn": 1, "n": 1,
                                          "precision_ci95": None, "recall_ci95": None,
                                          "false_alarms_per_1000": 0.0,
                                          "false_alarms_per_1000_ci95": [0.0, 793.46]}
    # Wilson 95% intervals: 2 of 3 positives caught is "somewhere between 21% and 94%"
    assert report["recall_ci95"] == [0.2077, 0.9385] and report["precision_ci95"] == [0.3424, 1.0]
    assert report["false_alarms_per_1000"] == 0.0 and report["by_lang"]["en"]["false_alarms_per_1000"] == 0.0
    assert [e["id"] for e in report["errors"]] == ["d"]
    assert report["errors"][0]["reason"].startswith("rules 0 < threshold")
    assert report["model_version"].startswith("m")
    assert not (tmp_path / "none.db").exists()  # evaluating writes no database


def test_eval_rejects_a_bad_file(tmp_path):
    (tmp_path / "bad.jsonl").write_text('{"text": "x"}\n{"title": 3}\n', encoding="utf-8")
    result = tipwatch("eval", tmp_path / "bad.jsonl", check=False)
    assert result.returncode == 1
    assert result.stderr.strip().endswith("bad.jsonl:2: 'text' is required (a non-empty string)")


@pytest.fixture
def stored(tmp_path):
    """A database with a trafficking story, a drug story and an ambiguous one."""
    path = tmp_path / "t.db"
    db = store.open_db(path)
    rows = [article(1, title="Human trafficking ring busted", text="Police rescued women sold to brothels. " * 5),
            article(2, title="Heroin seized at the border", text="Drug traffickers arrested with heroin. " * 5),
            article(3, title="Karaoke bar raided", text="Police found girls from Lao Cai forced to serve guests. " * 5)]
    ids = [store.save_article(db, row) for row in rows]
    return path, ids


def test_label_by_id_and_url(stored):
    path, ids = stored
    out = tipwatch("label", ids[0], "yes", "--note", "clear case", "--db", path).stdout
    assert out == f"article {ids[0]} labelled yes: Human trafficking ring busted\n"
    url = article(1)["url"].replace("https://", "http://") + "?utm_source=x"
    assert tipwatch("label", url, "no", "--db", path).stdout.startswith(f"article {ids[0]} labelled no (was yes)")
    rows = list(store.open_db(path).query("SELECT article_id, label, note FROM labels"))
    assert rows == [{"article_id": ids[0], "label": 0, "note": None}]
    missing = tipwatch("label", "999", "yes", "--db", path, check=False)
    assert missing.returncode == 1 and "no stored article has the id or URL '999'" in missing.stderr


def test_train_then_classify_all_stores_explained_decisions(stored):
    path, ids = stored
    tipwatch("label", ids[2], "yes", "--db", path)
    tipwatch("label", ids[1], "no", "--db", path)
    out = tipwatch("train", "--db", path).stdout
    assert "(2 analyst labels)" in out and "held-out test split" in out
    db = store.open_db(path)
    (row,) = list(db.query("SELECT version, path, n_analyst, precision, recall FROM models"))
    assert row["n_analyst"] == 2 and row["path"].endswith(row["version"] + ".json.gz")
    assert (path.parent / "models" / f"{row['version']}.json.gz").exists()
    assert 0 < row["precision"] <= 1 and 0 < row["recall"] <= 1
    margin = store.save_article(db, article(4, title="", text="Police said the women were trafficked."))
    assert f"(model {row['version']})" in tipwatch("classify", "--all", "--db", path).stdout
    decisions = {r["article_id"]: r for r in db.query("SELECT * FROM classifications")}
    assert decisions[ids[0]]["flagged"] == 1 and decisions[ids[1]]["flagged"] == 0
    assert json.loads(decisions[ids[0]]["rules"])["tip-core"] > 0
    assert all(r["reason"].startswith("rules ") for r in decisions.values())
    consulted = [r for r in decisions.values() if r["probability"] is not None]
    assert [r["article_id"] for r in consulted] == [margin]
    assert all(0 <= r["probability"] <= 1 and r["model_version"] == row["version"] for r in consulted)
    # same labels, same model: training again changes nothing
    tipwatch("train", "--db", path)
    assert db["models"].count == 1


def test_rules_test_lists_what_a_changed_profile_would_flag(stored, tmp_path):
    path, ids = stored
    candidate = tmp_path / "candidate.toml"
    candidate.write_text((REPO / "seeds/topics/trafficking.toml").read_text(encoding="utf-8")
                         + '\n[[rule]]\nname = "karaoke"\nweight = 5.0\nterms.en = ["karaoke bar"]\n',
                         encoding="utf-8")
    out = tipwatch("rules", "test", "--profile", candidate, "--db", path, "--json").stdout
    report = json.loads(out)
    assert [r["id"] for r in report["newly_flagged"]] == [ids[2]] and report["newly_unflagged"] == []
    assert report["stored"] == 3 and set(report["labelled"]) == {"shipped train", "shipped test"}
    text = tipwatch("rules", "test", "--profile", candidate, "--db", path).stdout
    assert f"  + {ids[2]}: Karaoke bar raided" in text
    broken = tmp_path / "broken.toml"
    broken.write_text('[profile]\nthreshold = 3\n[[rule]]\nname = "x"\nweight = "high"\nterms = ["a"]\n')
    result = tipwatch("rules", "test", "--profile", broken, "--db", path, check=False)
    assert result.returncode == 1 and "rule 'x': key 'weight' must be a number" in result.stderr


def test_profile_without_model_never_loads_it(tmp_path):
    from pipeline.topic.stage import load_stage

    text = (REPO / "seeds/topics/trafficking.toml").read_text(encoding="utf-8")
    profile = tmp_path / "rules-only.toml"
    profile.write_text(text.replace("\nuse = true\n", "\nuse = false\n"), encoding="utf-8")
    broken = tmp_path / "broken.json.gz"
    broken.write_bytes(b"not a model")
    stage = load_stage(str(profile), str(broken))  # a model it would fail to load
    assert stage.model is None
    result = stage.classify(title="", text="Police said the women were trafficked.", language="en")
    assert result["probability"] is None and "model" not in result["reason"]
    with pytest.raises(model.ModelError):
        load_stage(str(REPO / "seeds/topics/trafficking.toml"), str(broken))


def test_classify_all_reports_the_decisions_that_changed_and_lists_them(stored, tmp_path):
    path, ids = stored
    first = tipwatch("classify", "--all", "--db", path).stdout.splitlines()
    assert first[0].startswith("3 articles classified: 1 decisions changed (1 newly flagged, 0 no longer flagged)")
    assert first[1:] == [f"  + {ids[0]}: Human trafficking ring busted"]
    profile = (REPO / "seeds/topics/trafficking.toml").read_text(encoding="utf-8")
    commented = tmp_path / "commented.toml"
    commented.write_text("# a comment only\n" + profile, encoding="utf-8")
    again = tipwatch("classify", "--all", "--db", path, "--profile", commented).stdout.splitlines()
    assert again[0].startswith("3 articles classified: 0 decisions changed (0 newly flagged, 0 no longer flagged)")
    assert len(again) == 1  # rows may be rewritten (the profile's version), but no decision is listed
    karaoke = tmp_path / "karaoke.toml"
    karaoke.write_text(profile + '\n[[rule]]\nname = "karaoke"\nweight = 5.0\nterms.en = ["karaoke bar"]\n',
                       encoding="utf-8")
    flipped = tipwatch("classify", "--all", "--db", path, "--profile", karaoke).stdout.splitlines()
    assert " 1 decisions changed (1 newly flagged, 0 no longer flagged)" in flipped[0]
    assert flipped[1:] == [f"  + {ids[2]}: Karaoke bar raided"]
    back = tipwatch("classify", "--all", "--db", path).stdout.splitlines()
    assert back[1:] == [f"  - {ids[2]}: Karaoke bar raided"]


def test_rules_test_refuses_to_compare_the_active_profile_with_itself(stored):
    path, _ = stored
    result = tipwatch("rules", "test", "--db", path, check=False)
    assert result.returncode == 1
    assert "rules test compares a changed profile with the active one" in result.stderr
    assert "--profile FILE" in result.stderr
