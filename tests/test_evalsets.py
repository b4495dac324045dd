"""Evaluation over several collections (assistant.evaluation.collections) and the named models (assistant.encoders.models)."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import pytest

from assistant.errors import ModelError, QueryError
from assistant.evaluation.collections import (
    Collection, load_registry, mean_over_collections, run_collections, select, side_by_side, to_json, write_reports,
)
from assistant.encoders.models import MPNET, assemble, canonical_name, model_folder, named

ROOT = Path(__file__).resolve().parent.parent


def _collection(tmp_path: Path, name: str, pages: dict[str, str], queries: list[dict]) -> Collection:
    corpus = tmp_path / name / "corpus"
    corpus.mkdir(parents=True)
    for file, text in pages.items():
        (corpus / file).write_text(text, encoding="utf-8")
    q = tmp_path / name / "queries.jsonl"
    q.write_text("".join(json.dumps(x) + "\n" for x in queries), encoding="utf-8")
    return Collection(name, corpus, q)


@pytest.fixture
def two_collections(tmp_path: Path) -> list[Collection]:
    boats = _collection(tmp_path, "boats", {
        "sail.txt": "Sailing\n\nA sloop has one mast and a jib.\n\nA ketch has two masts, the aft one shorter.\n",
    }, [
        {"id": "b1", "query": "how many masts does a ketch have", "relevant": [{"doc": "sail", "quote": "A ketch has two masts"}]},
        {"id": "b2", "query": "sloop mast", "relevant": [{"doc": "sail", "quote": "A sloop has one mast"}]},
    ])
    bread = _collection(tmp_path, "bread", {
        "dough.txt": "Dough\n\nYeast dough rises for two hours in a warm room.\n\nSourdough needs a starter fed daily.\n",
    }, [
        {"id": "d1", "query": "what does sourdough need", "relevant": [{"doc": "dough", "quote": "Sourdough needs a starter"}]},
        {"id": "d2", "query": "who won the football cup", "relevant": [], "tags": ["unanswerable"]},
    ])
    return [boats, bread]


def test_the_shipped_registry_names_existing_query_sets() -> None:
    collections = load_registry(ROOT / "eval" / "collections.json")
    assert [c.name for c in collections][:1] == ["default"]
    assert {"debian-faq", "debian-reference"} <= {c.name for c in collections}
    for c in collections:
        assert c.queries.is_file(), c.queries
        assert c.corpus.is_dir() or c.fetch, f"{c.name}: no corpus and no command that makes it"


def test_select_keeps_order_and_refuses_unknown_names(two_collections: list[Collection]) -> None:
    assert [c.name for c in select(two_collections, "all")] == ["boats", "bread"]
    assert [c.name for c in select(two_collections, "bread, boats")] == ["bread", "boats"]
    with pytest.raises(QueryError, match="unknown collection 'cars'; choose from all, boats, bread"):
        select(two_collections, "boats,cars")


def test_bad_registry_is_one_clear_error(tmp_path: Path) -> None:
    (tmp_path / "eval").mkdir()
    bad = tmp_path / "eval" / "collections.json"
    bad.write_text('{"collections": [{"name": "x"}]}')
    with pytest.raises(QueryError, match="not a valid collections registry"):
        load_registry(bad)
    with pytest.raises(QueryError, match="not found"):
        load_registry(tmp_path / "nope.json")


def test_runs_every_collection_caches_indexes_and_averages(two_collections, tiny_encoder, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    kwargs = dict(models=(tiny_encoder.name,), modes=("hybrid", "dense"), cache=cache,
                  encoder_for=lambda name: tiny_encoder)
    runs = run_collections(two_collections, **kwargs)
    assert [(r.collection, r.built_now) for r in runs] == [("boats", True), ("bread", True)]
    assert (cache / "boats" / "index" / tiny_encoder.name / "manifest.json").is_file()
    # the same again: the cached indexes are used
    again = run_collections(two_collections, **kwargs)
    assert [r.built_now for r in again] == [False, False]
    # a changed corpus makes its index stale: rebuilt, the other one kept
    (two_collections[1].corpus / "dough.txt").write_text("Dough\n\nSourdough needs a starter fed daily.\n")
    assert [r.built_now for r in run_collections(two_collections, **kwargs)] == [False, True]

    means = mean_over_collections(runs)[tiny_encoder.name]
    for mode in ("hybrid", "dense"):
        per = [next(x.metrics for x in r.reports if x.mode == mode) for r in runs]
        assert means[mode]["mrr@10"] == pytest.approx((per[0]["mrr@10"] + per[1]["mrr@10"]) / 2, abs=1e-4)
        # only "bread" has an unanswerable question: its rate is the mean
        assert means[mode]["refused_unanswerable"] == per[1]["refused_unanswerable"]
    table = side_by_side(runs)
    assert table.splitlines()[0] == "| mode | boats | bread | mean |"
    assert [line.split(" | ")[0] for line in table.splitlines()[2:]] == ["| hybrid", "| dense"]

    out = write_reports(runs, tmp_path / "report", collections=two_collections)
    data = json.loads((out / "report.json").read_text())  # strict JSON: no NaN
    assert data["collections"]["boats"][tiny_encoder.name]["hybrid"]["refused_unanswerable"] is None
    assert data["cost"][tiny_encoder.name]["bread"]["passages"] == runs[1].passages
    assert (out / f"boats-{tiny_encoder.name}" / "report.md").is_file()
    assert "## Mean over collections" in (out / "report.md").read_text()
    assert to_json(runs)["mean"] == mean_over_collections(runs)


def test_a_second_question_set_uses_its_collections_index(two_collections, tiny_encoder, tmp_path: Path) -> None:
    boats = two_collections[0]
    second = tmp_path / "boats-second.jsonl"
    second.write_text(json.dumps({"id": "s1", "query": "ketch masts", "relevant": [{"doc": "sail", "quote": "A ketch has two masts"}]}) + "\n")
    held = Collection("boats-holdout", boats.corpus, second, shares="boats")
    cache = tmp_path / "cache"
    kwargs = dict(models=(tiny_encoder.name,), modes=("hybrid",), cache=cache, encoder_for=lambda name: tiny_encoder)
    runs = run_collections([boats, held], **kwargs)
    assert [(r.collection, r.built_now) for r in runs] == [("boats", True), ("boats-holdout", False)]
    assert runs[0].index_dir == runs[1].index_dir
    assert not (cache / "boats-holdout").exists()
    assert next(x for x in runs[1].reports).metrics["queries"] == 1


def test_the_shipped_held_out_sets_share_their_collections_corpus() -> None:
    collections = {c.name: c for c in load_registry(ROOT / "eval" / "collections.json")}
    for name in ("default", "debian-faq", "debian-reference"):
        held = collections[f"{name}-holdout"]
        assert held.shares == name and held.corpus == collections[name].corpus
        assert held.qrels is not None and held.qrels.is_file()
        asked = {json.loads(line)["query"].lower() for line in collections[name].queries.read_text().splitlines()}
        new = [json.loads(line)["query"].lower() for line in held.queries.read_text().splitlines()]
        assert not asked & set(new), "a held-out question repeats one of the first set"


def test_missing_corpus_says_how_to_fetch_it(tmp_path: Path, tiny_encoder) -> None:
    q = tmp_path / "q.jsonl"
    q.write_text(json.dumps({"id": "x", "query": "y", "relevant": []}) + "\n")
    c = Collection("faq", tmp_path / "missing", q, fetch="make eval-data")
    with pytest.raises(QueryError, match=r"collection faq: no corpus at .*missing; run: make eval-data"):
        run_collections([c], models=("m",), modes=("dense",), cache=tmp_path, encoder_for=lambda n: tiny_encoder)


def test_cli_compares_collections_side_by_side(two_collections, tmp_path: Path, capsys) -> None:
    from assistant.cli.main import main

    registry = tmp_path / "eval" / "collections.json"
    registry.parent.mkdir()
    registry.write_text(json.dumps({"collections": [
        {"name": c.name, "corpus": str(c.corpus), "queries": str(c.queries)} for c in two_collections]}))
    assert main(["eval", "--collections", "nope", "--registry", str(registry)]) == 1
    assert "unknown collection 'nope'" in capsys.readouterr().err
    assert main(["eval", "--collections", "all", "--registry", str(registry), "--reranker", "x"]) == 1
    assert "--reranker works with one query set" in capsys.readouterr().err



def test_cli_eval_collections_prints_the_figures_as_json(two_collections, tiny_encoder, tmp_path: Path, capsys) -> None:
    from assistant.cli.main import main

    registry = tmp_path / "eval" / "collections.json"
    registry.parent.mkdir()
    registry.write_text(json.dumps({"collections": [
        {"name": c.name, "corpus": str(c.corpus), "queries": str(c.queries)} for c in two_collections]}))
    argv = ["eval", "--collections", "all", "--registry", str(registry), "--mode", "hybrid,keyword",
            "--model", tiny_encoder.name, "--index-cache", str(tmp_path / "cache"),
            "--report-dir", str(tmp_path / "reports"), "--name", "r"]
    assert main([*argv, "--json"], encoder=tiny_encoder) == 0
    data = json.loads(capsys.readouterr().out)
    assert set(data["collections"]) == {"boats", "bread"}
    assert set(data["mean"][tiny_encoder.name]) == {"hybrid", "keyword"}
    assert data["report"] == str(tmp_path / "reports" / "r")
    assert main(argv, encoder=tiny_encoder) == 0  # the text tables; the cached indexes are used
    out = capsys.readouterr().out
    assert "| mode | boats | bread | mean |" in out and "mean over collections" in out


# ---------------------------------------------------------------------------- named models


def test_named_models_and_the_names_a_manifest_records() -> None:
    assert named("mpnet") is MPNET and named("sentence-transformers/all-mpnet-base-v2") is MPNET
    assert canonical_name("minilm") == "all-MiniLM-L6-v2"
    assert canonical_name("mpnet") == "all-mpnet-base-v2"
    assert canonical_name("/some/folder") == "/some/folder"
    assert named("/some/folder") is None


def _split_zip(tmp_path: Path, pieces: int) -> tuple[Path, list[Path]]:
    src = tmp_path / "src" / "tiny-model"
    (src / "1_Pooling").mkdir(parents=True)
    (src / "modules.json").write_text("[]")
    (src / "1_Pooling" / "config.json").write_text('{"pooling_mode_mean_tokens": true}')
    (src / "weights.bin").write_bytes(bytes(range(256)) * 40)
    whole = tmp_path / "model.zip"
    with zipfile.ZipFile(whole, "w") as z:
        for f in sorted(src.rglob("*")):
            z.write(f, f.relative_to(src.parent))
    data = whole.read_bytes()
    size = len(data) // pieces + 1
    parts = []
    for n in range(pieces):
        p = tmp_path / "parts" / f"model.zip.{n + 1:03d}"
        p.parent.mkdir(exist_ok=True)
        p.write_bytes(data[n * size:(n + 1) * size])
        parts.append(p)
    return src, parts


def test_assemble_joins_the_parts_in_order_and_unpacks_the_model_folder(tmp_path: Path) -> None:
    src, parts = _split_zip(tmp_path, 3)
    out = assemble(parts, out=tmp_path / "models" / "tiny")
    assert out == tmp_path / "models" / "tiny"
    for f in src.rglob("*"):
        if f.is_file():
            assert (out / f.relative_to(src)).read_bytes() == f.read_bytes()
    assert [p.name for p in (tmp_path / "models").iterdir()] == ["tiny"]  # no temporary left behind
    with pytest.raises(ModelError, match="do not make a zip"):
        assemble(list(reversed(parts)), out=tmp_path / "models" / "wrong-order")
    assert not (tmp_path / "models" / "wrong-order").exists()


def test_a_model_not_assembled_names_the_command_that_installs_it(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match=r"mpnet .* is not installed; run: make mpnet"):
        model_folder(MPNET, root=tmp_path)


@pytest.mark.model
def test_mpnet_loads_and_encodes_when_installed() -> None:
    try:
        model_folder(MPNET)
    except ModelError:
        pytest.skip("mpnet is not installed (make mpnet)")
    from assistant.encoders.embed import SentenceTransformerEncoder

    enc = SentenceTransformerEncoder("mpnet")
    assert enc.name == "all-mpnet-base-v2" and enc.dimension == 768
    v = enc.encode(["How do I install a package?", "apt-get install installs a package", "The weather is sunny"])
    assert v.shape == (3, 768)
    assert float(v[0] @ v[1]) > float(v[0] @ v[2])
