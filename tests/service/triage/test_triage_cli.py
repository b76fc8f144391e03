"""``precedent evaluate classify``, ``precedent train`` and ``precedent models``."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner

from kb.db import make_engine, make_session_factory
from kb.models import AuditEvent, Client, Ticket, TriagePrediction
from service.cli import main
from service.triage.training_data import tickets_from_store
from tests.ml.ticket_samples import make_tickets


def write_csv(path, texts, labels, **extra):
    pd.DataFrame({"title": [t.split()[0] for t in texts], "body": texts, "label": labels, **extra}).to_csv(
        path, index=False)
    return str(path)


@pytest.fixture
def csvs(tmp_path):
    texts, labels = make_tickets(per_class=25, seed=0)
    texts.append("камера видеонаблюдения не пишет")  # a class with a single example
    labels.append("cabling")
    test_texts, test_labels = make_tickets(per_class=8, seed=1)
    test_texts.append("бэкап не выполнился ночью")  # a label the training set never saw
    test_labels.append("backup")
    return write_csv(tmp_path / "train.csv", texts, labels), write_csv(tmp_path / "test.csv", test_texts, test_labels)


def run(*args, env=None):
    return CliRunner().invoke(main, list(args), env=env)


def test_evaluate_classify_prints_the_metrics(csvs):
    train, test = csvs
    result = run("evaluate", "classify", "--train", train, "--test", test, "--text", "title,body", "--label", "label")
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    for key in ("accuracy", "macro_f1", "weighted_f1", "n_train", "n_test", "n_classes", "fit_seconds",
                "predict_ms_per_item", "coverage_at_90_precision"):
        assert key in data
    assert data["n_train"] == 101 and data["n_test"] == 33 and data["n_classes"] == 6
    assert data["accuracy"] > 0.7 and 0 <= data["coverage_at_90_precision"] <= 1
    assert data["unseen_test_labels"] == ["backup"]
    assert data["per_class_f1"]["backup"]["f1"] == 0.0


def test_evaluate_classify_reads_excel_style_russian_exports(csvs, tmp_path):
    # Russian Excel saves "CSV" with semicolons in cp1251; the same data must give the same result.
    train, test = csvs
    converted = []
    for name in (train, test):
        target = tmp_path / f"excel-{Path(name).name}"
        pd.read_csv(name).to_csv(target, sep=";", index=False, encoding="cp1251")
        converted.append(str(target))
    plain = run("evaluate", "classify", "--train", train, "--test", test, "--text", "title,body", "--label", "label")
    excel = run("evaluate", "classify", "--train", converted[0], "--test", converted[1], "--text", "title,body",
                "--label", "label")
    assert excel.exit_code == 0, excel.output
    for key in ("accuracy", "macro_f1", "n_train", "n_test", "n_classes"):
        assert json.loads(excel.output)[key] == json.loads(plain.output)[key]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--train", "missing.csv", "--test", "T", "--text", "body", "--label", "label"], "--train: file not found"),
        (["--train", "TRAIN", "--test", "missing.csv", "--text", "body", "--label", "label"], "--test: file not found"),
        (["--train", "TRAIN", "--test", "TEST", "--text", "nope", "--label", "label"], "no column(s) nope"),
        (["--train", "TRAIN", "--test", "TEST", "--text", "body", "--label", "nope"], "no column(s) nope"),
        (["--train", "TRAIN", "--test", "TEST", "--text", ",", "--label", "label"], "--text: give at least one"),
        (["--train", "ONECLASS", "--test", "TEST", "--text", "body", "--label", "label"], "single distinct label"),
        (["--train", "EMPTY", "--test", "TEST", "--text", "body", "--label", "label"], "no rows with a 'label'"),
        (["--train", "BINARY", "--test", "TEST", "--text", "body", "--label", "label"], "cannot read"),
    ],
)
def test_evaluate_classify_bad_input_exits_2(tmp_path, csvs, args, message):
    train, test = csvs
    one_class = write_csv(tmp_path / "one.csv", ["a b c", "d e f"], ["x", "x"])
    empty = write_csv(tmp_path / "empty.csv", ["a b c"], [""])
    binary = tmp_path / "binary.csv"
    binary.write_bytes(b"\x00\xff\xfe\x00" * 10)
    names = {"TRAIN": train, "TEST": test, "ONECLASS": one_class, "EMPTY": empty, "BINARY": str(binary),
             "missing.csv": str(tmp_path / "missing.csv"), "T": test}
    result = run("evaluate", "classify", *[names.get(a, a) for a in args])
    assert result.exit_code == 2
    assert message in result.output


def test_missing_option_exits_2(csvs):
    result = run("evaluate", "classify", "--train", csvs[0], "--text", "body", "--label", "label")
    assert result.exit_code == 2 and "--test" in result.output


@pytest.fixture
def store(tmp_path, sqlite_url):
    """A store with triaged tickets; one ticket's group was corrected by an engineer."""
    engine = make_engine(sqlite_url)
    with make_session_factory(engine)() as session:
        client = Client(name="ООО Ромашка", sla_policy="silver")
        session.add(client)
        session.flush()
        texts, groups = make_tickets(per_class=20)
        priority_of = {"network": "high", "1c": "high", "mail": "standard", "printers": "low"}
        tickets = [Ticket(client_id=client.id, subject=t, group=g, priority=priority_of[g], status="closed",
                          channel="email") for t, g in zip(texts, groups, strict=True)]
        tickets.append(Ticket(client_id=client.id, subject="new, not triaged yet", status="new"))
        session.add_all(tickets)
        session.flush()
        # the workflow's change_priority writes "update" with {"group": {"from", "to"}}: a correction
        session.add(AuditEvent(entity="ticket", entity_id=tickets[0].id, action="update", actor="eng",
                               data={"group": {"from": "mail", "to": tickets[0].group}}))
        session.add(TriagePrediction(ticket_id=tickets[1].id, group=tickets[1].group, priority="low"))
        # the creation event carries the model's own values: not a correction
        session.add(AuditEvent(entity="ticket", entity_id=tickets[2].id, action="create", actor="eng",
                               data={"from": None, "to": "new", "group": tickets[2].group,
                                     "priority": tickets[2].priority}))
        # the triage step setting a first group, where there was none, is not a correction either
        session.add(AuditEvent(entity="ticket", entity_id=tickets[3].id, action="triage", actor="eng",
                               data={"from": "new", "to": "new", "group": {"from": None, "to": tickets[3].group}}))
        # the triage step raising the priority is a correction; a status change alone is not
        session.add(AuditEvent(entity="ticket", entity_id=tickets[4].id, action="triage", actor="eng",
                               data={"from": "new", "to": "in_progress",
                                     "priority": {"from": "low", "to": tickets[4].priority}}))
        session.add(AuditEvent(entity="ticket", entity_id=tickets[5].id, action="take", actor="eng",
                               data={"from": "new", "to": "in_progress", "specialist_id": 1}))
        session.commit()
        data = tickets_from_store(session)
    engine.dispose()
    return {"PRECEDENT_DATABASE_URL": sqlite_url, "PRECEDENT_VAR_DIR": str(tmp_path / "var")}, data


def test_tickets_from_store_weights_corrections(store):
    _, data = store
    assert len(data) == 80  # the "new" ticket is not a label yet
    assert data.group_weights[0] == 2.0 and data.group_weights[1] == 1.0
    assert data.group_weights[2] == data.group_weights[3] == data.priority_weights[2] == 1.0
    assert data.priority_weights[1] == 2.0 and data.priority_weights[0] == 1.0
    assert data.priority_weights[4] == 2.0 and data.group_weights[4] == 1.0
    assert data.group_weights[5] == data.priority_weights[5] == 1.0
    assert data.signals[0].tier == "silver" and data.signals[0].channel == "email"


def test_train_list_publish(store):
    env, _ = store
    result = run("train", "routing", env=env)
    assert result.exit_code == 0, result.output
    trained = json.loads(result.output)["trained"][0]
    assert trained["name"] == "routing" and trained["published"] is False and trained["rows"] == 80
    manifest = json.loads(open(f"{trained['path']}/manifest.json", encoding="utf-8").read())
    for key in ("parameters", "metrics", "data_hash", "row_count", "libraries", "created_at", "thresholds"):
        assert key in manifest
    assert manifest["corrections"] == 1
    listed = json.loads(run("models", "list", env=env).output)["models"]
    assert [m["version"] for m in listed] == [trained["version"]]
    published = run("models", "publish", "routing", trained["version"], env=env)
    assert published.exit_code == 0 and json.loads(published.output)["published"]["published"] is True
    bad = run("models", "publish", "routing", "nope", env=env)
    assert bad.exit_code == 2 and "not found" in bad.output
    all_published = run("train", "all", "--publish", env=env)
    assert all_published.exit_code == 0, all_published.output
    assert {m["name"] for m in json.loads(all_published.output)["trained"]} == {"routing", "priority"}


def test_train_on_an_empty_store_exits_2(sqlite_url, tmp_path):
    result = run("train", "priority", env={"PRECEDENT_DATABASE_URL": sqlite_url, "PRECEDENT_VAR_DIR": str(tmp_path)})
    assert result.exit_code == 2 and "priority" in result.output


def test_unknown_stack_base_exits_2(csvs):
    result = run("evaluate", "classify", "--train", csvs[0], "--test", csvs[1], "--text", "body", "--label", "label",
                 env={"PRECEDENT_TRIAGE_STACK_BASES": "word_svm,bert"})
    assert result.exit_code == 2 and "PRECEDENT_TRIAGE_STACK_BASES" in result.output and "bert" in result.output


def test_char_variant_runs(csvs):
    result = run("evaluate", "classify", "--train", csvs[0], "--test", csvs[1], "--text", "body", "--label", "label",
                 env={"PRECEDENT_TRIAGE_STACK_BASES": "wordchar_svm,word_nb"})
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["stack_bases"] == ["wordchar_svm", "word_nb"]


SELECTED = {"PRECEDENT_TRIAGE_PIPELINE": "selected"}


def test_models_show_prints_the_selection(store):
    env, _ = store
    env = {**env, **SELECTED}
    assert run("models", "show", "routing", env=env).exit_code == 2  # nothing saved yet
    trained = json.loads(run("train", "routing", env=env).output)["trained"][0]
    shown = run("models", "show", "routing", env=env)
    assert shown.exit_code == 0, shown.output
    data = json.loads(shown.output)
    assert data["version"] == trained["version"]
    selection = data["selection"]
    assert {"baseline", "stack", "stack_prior"} <= set(selection["candidates"])
    assert data["final_calibration"]["calibration"]["method"] in ("temperature", "isotonic")
    assert selection["winner"] in selection["candidates"]
    assert selection["calibration"]["method"] in ("temperature", "isotonic")
    assert set(selection["thresholds"]) == {"0.8", "0.85", "0.9", "0.95"}
    assert run("models", "show", "routing", "nope", env=env).exit_code == 2


def test_evaluate_classify_reports_the_training_threshold_on_test(csvs):
    result = run("evaluate", "classify", "--train", csvs[0], "--test", csvs[1], "--text", "body", "--label", "label",
                 env=SELECTED)
    data = json.loads(result.output)
    assert "baseline" in data["selection"]["candidates"]
    reached = data["at_training_threshold"]
    assert reached["target_precision"] == 0.9 and 0 <= reached["coverage"] <= 1


def test_the_selection_is_the_default_pipeline_and_the_stack_stays_available(csvs):
    args = ("evaluate", "classify", "--train", csvs[0], "--test", csvs[1], "--text", "body", "--label", "label")
    default = run(*args)
    assert default.exit_code == 0, default.output
    assert {"baseline", "stack", "stack_prior"} <= set(json.loads(default.output)["selection"]["candidates"])
    stack = run(*args, env={"PRECEDENT_TRIAGE_PIPELINE": "stack"})
    assert stack.exit_code == 0, stack.output
    assert "selection" not in json.loads(stack.output)
    bad = run(*args, env={"PRECEDENT_TRIAGE_PIPELINE": "magic"})
    assert bad.exit_code == 2 and "pipeline must be one of selected, stack" in bad.output
