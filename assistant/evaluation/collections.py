"""Evaluation over several collections and models, side by side.

Owns the collections registry (``eval/collections.json``: a name, a corpus
folder and a query set each), an index per collection and model cached in a
git-ignored folder (rebuilt when missing, stale or of another format), running
:func:`assistant.evaluation.evaluate.evaluate` on each, and the tables that compare them:
per collection, the mean over collections, and the models' cost (build
passages/s, query latency) next to their quality.
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import dataclass, replace
from pathlib import Path

from assistant.errors import IndexLoadError, QueryError
from assistant.evaluation.evaluate import ModeReport

REGISTRY = "eval/collections.json"
HEADLINE = ("recall@1", "recall@5", "recall@10", "mrr@10", "ndcg@10",
            "refused_unanswerable", "refused_answerable", "shown_unrelated", "answer_kept", "shown_mean",
            "ndcg_graded@10", "latency_p50_ms")


@dataclass(frozen=True)
class Collection:
    name: str
    corpus: Path
    queries: Path
    fetch: str = ""  # the command that makes the corpus, when it is generated
    qrels: Path | None = None  # graded judgments (eval/README.md), when the collection has them
    # Another question set over another collection's corpus: that collection's name, whose
    # cached index it uses (e.g. held-out questions, written apart from the first set).
    shares: str = ""

    @property
    def index_name(self) -> str:
        """The name its index is cached (and its Qdrant alias made) under."""
        return self.shares or self.name


@dataclass(frozen=True)
class Run:
    """One model on one collection: its evaluation and what the index cost."""

    collection: str
    model: str  # the registry key or the name given
    passages: int
    build_seconds: float  # as recorded in the index manifest
    built_now: bool
    index_dir: Path
    reports: tuple[ModeReport, ...]

    @property
    def build_rate(self) -> float:
        """Passages embedded per second when the index was built."""
        return self.passages / self.build_seconds if self.build_seconds > 0 else math.nan


def load_registry(path: str | Path) -> list[Collection]:
    """Read the registry; paths in it are relative to the folder above ``eval/``.

    Raises:
        QueryError: a missing or malformed registry.
    """
    p = Path(path)
    try:
        data = json.loads(p.read_text(encoding="utf-8"))
        root = p.resolve().parent.parent
        out = [Collection(c["name"], root / c["corpus"], root / c["queries"], c.get("fetch", ""),
                          root / c["qrels"] if c.get("qrels") else None, c.get("shares", ""))
               for c in data["collections"]]
    except FileNotFoundError:
        raise QueryError(f"collections registry not found: {p}") from None
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise QueryError(f"{p} is not a valid collections registry ({type(e).__name__}: {e})") from None
    return out


def select(collections: list[Collection], names: str) -> list[Collection]:
    """``all`` or comma-separated names, in the order given.

    Raises:
        QueryError: an unknown name (the message lists the known ones).
    """
    known = {c.name: c for c in collections}
    wanted = [n.strip() for n in names.split(",") if n.strip()]
    if not wanted or wanted == ["all"]:
        return list(collections)
    for n in wanted:
        if n not in known:
            raise QueryError(f"unknown collection {n!r}; choose from all, {', '.join(known)}")
    return [known[n] for n in dict.fromkeys(wanted)]


def index_folder(cache: Path, collection: Collection, model: str) -> Path:
    """Where the cached index of ``collection`` built with ``model`` lives."""
    from assistant.encoders.models import named

    m = named(model)
    slug = m.key if m else "".join(ch if ch.isalnum() or ch in "._-" else "_" for ch in model).strip("_")[-60:]
    return cache / collection.index_name / "index" / slug


def ensure_index(collection: Collection, *, model: str, cache: Path, build_threads: int | None = None,
                 progress: bool = False, encoder=None, qdrant=None):
    """The collection's index for ``model``, built into the cache unless a fresh one is there.

    Returns:
        (Index, built_now)

    Args:
        encoder: the encoder to build with (default: ``model`` loaded with
            sentence-transformers, only when a build is needed).
        qdrant: an ``assistant.index.qdrant.Place`` to build on (its alias becomes the
            collection's name); None: the embedded backend. An index of the other backend is rebuilt.

    Raises:
        QueryError: the collection's corpus is missing (the message says how to fetch it).
    """
    from assistant.pipeline.build import build_index
    from assistant.index.folder import load_index
    from assistant.encoders.models import canonical_name

    if not collection.corpus.is_dir():
        how = f"; run: {collection.fetch}" if collection.fetch else ""
        raise QueryError(f"collection {collection.name}: no corpus at {collection.corpus}{how}")
    folder = index_folder(cache, collection, model)
    backend = "embedded" if qdrant is None else "qdrant"
    place = None if qdrant is None else replace(qdrant, alias=collection.index_name, collection="")
    try:
        index = load_index(folder)
        current = index.freshness is None or not index.freshness.stale  # an evaluation never withholds
        if current and index.manifest.model == canonical_name(model) and index.manifest.backend == backend:
            return index, False
    except IndexLoadError:
        pass  # missing, stale or of another format: build it
    if encoder is None:
        from assistant.encoders.embed import SentenceTransformerEncoder

        encoder = SentenceTransformerEncoder(model, threads=build_threads)
    build_index(collection.corpus, encoder=encoder, out_dir=folder, progress=progress, backend=backend, qdrant=place)
    return load_index(folder), True


def run_collections(
    collections: list[Collection], *, models: tuple[str, ...], modes: tuple[str, ...], cache: Path,
    threads: int | None = None, build_threads: int | None = None, onnx_dir: Path | None = None,
    progress: bool = False, log=None, encoder_for=None, qdrant=None,
) -> list[Run]:
    """Evaluate every model on every collection (building indexes as needed).

    Args:
        encoder_for: model name -> encoder, to build and answer with (default:
            build with sentence-transformers, answer with what ``Assistant.open`` loads).
        log: called with a line of progress or warning.
    """
    from assistant.evaluation.evaluate import evaluate, load_grades, load_queries, unreachable
    from assistant.pipeline.service import Assistant

    runs: list[Run] = []
    for model in models:
        for c in collections:
            encoder = encoder_for(model) if encoder_for else None
            index, built = ensure_index(c, model=model, cache=cache, build_threads=build_threads, progress=progress,
                                        encoder=encoder, qdrant=qdrant)
            queries = load_queries(c.queries, index.documents)
            assistant = Assistant.open(index.path, index=index, threads=threads, onnx_dir=onnx_dir, encoder=encoder)
            if log:
                for qid in unreachable(queries, index):
                    log(f"warning: {c.name}: {qid}: its gold quotes lie in no indexed passage; it counts as not found")
            grades = load_grades(c.qrels) if c.qrels is not None and c.qrels.is_file() else None
            reports = evaluate(assistant, queries, modes=modes, grades=grades)
            runs.append(Run(c.name, model, index.manifest.passages, index.manifest.build_seconds, built,
                            index.path, tuple(reports)))
            if log:
                log(f"{c.name} / {model}: {len(queries)} questions, {index.manifest.passages} passages"
                    + (" (index built now)" if built else ""))
    return runs


def mean_over_collections(runs: list[Run]) -> dict[str, dict[str, dict[str, float]]]:
    """model -> mode -> the mean of each headline metric over the collections
    (a refusal rate only over the collections that have such questions)."""
    out: dict[str, dict[str, dict[str, float]]] = {}
    for model in dict.fromkeys(r.model for r in runs):
        mine = [r for r in runs if r.model == model]
        out[model] = {}
        for mode in (m.mode for m in mine[0].reports):
            vals = [next(x.metrics for x in r.reports if x.mode == mode) for r in mine]
            out[model][mode] = {}
            for k in HEADLINE:
                have = [v[k] for v in vals if k in v and not math.isnan(v[k])]
                out[model][mode][k] = round(sum(have) / len(have), 4) if have else math.nan
    return out


def to_json(runs: list[Run]) -> dict:
    """The figures as plain data: per collection, model and mode; the means; the models' cost."""
    data: dict = {"collections": {}, "mean": mean_over_collections(runs), "cost": {}}
    for r in runs:
        data["collections"].setdefault(r.collection, {})[r.model] = {x.mode: x.metrics for x in r.reports}
        data["cost"].setdefault(r.model, {})[r.collection] = {
            "passages": r.passages, "build_seconds": r.build_seconds,
            "build_passages_per_s": round(r.build_rate, 1),
            "query_p50_ms": r.reports[0].metrics.get("latency_p50_ms"),
            "query_p50_mode": r.reports[0].mode,
        }
    return data


def side_by_side(runs: list[Run]) -> str:
    """One row per model and mode: recall@5 / MRR@10 on each collection, then the mean."""
    names = list(dict.fromkeys(r.collection for r in runs))
    models = list(dict.fromkeys(r.model for r in runs))
    means = mean_over_collections(runs)
    label = len(models) > 1
    head = "| " + ("model | " if label else "") + "mode | " + " | ".join(names) + " | mean |"
    rule = "|" + "---|" * (len(names) + 2 + label)
    rows = [head, rule]
    for model in models:
        by = {r.collection: r for r in runs if r.model == model}
        for mode in (m.mode for m in by[names[0]].reports):
            cells = []
            for n in names:
                met = next(x.metrics for x in by[n].reports if x.mode == mode)
                cells.append(f"{met['recall@5']:.3f} / {met['mrr@10']:.3f}")
            mm = means[model][mode]
            cells.append(f"{mm['recall@5']:.3f} / {mm['mrr@10']:.3f}")
            rows.append("| " + (f"{model} | " if label else "") + f"{mode} | " + " | ".join(cells) + " |")
    return "\n".join(rows)


def collection_table(runs: list[Run], collection: str) -> str:
    """The headline metrics of every model and mode on one collection."""
    mine = [r for r in runs if r.collection == collection]
    label = len(mine) > 1
    head = "| " + ("model | " if label else "") + "mode | " + " | ".join(HEADLINE) + " |"
    rows = [head, "|" + "---|" * (len(HEADLINE) + 1 + label)]
    for r in mine:
        for x in r.reports:
            rows.append("| " + (f"{r.model} | " if label else "") + f"{x.mode} | "
                        + " | ".join(_fmt(k, x.metrics.get(k)) for k in HEADLINE) + " |")
    return "\n".join(rows)


def mean_table(runs: list[Run]) -> str:
    """The headline metrics averaged over the collections."""
    means = mean_over_collections(runs)
    label = len(means) > 1
    head = "| " + ("model | " if label else "") + "mode | " + " | ".join(HEADLINE) + " |"
    rows = [head, "|" + "---|" * (len(HEADLINE) + 1 + label)]
    for model, modes in means.items():
        for mode, met in modes.items():
            rows.append("| " + (f"{model} | " if label else "") + f"{mode} | "
                        + " | ".join(_fmt(k, met.get(k)) for k in HEADLINE) + " |")
    return "\n".join(rows)


def cost_table(runs: list[Run]) -> str:
    """Each model's cost next to its quality, per collection (the first mode's figures)."""
    rows = ["| model | collection | passages | build passages/s | query p50 ms | mode | recall@5 | MRR@10 |",
            "|---|---|---|---|---|---|---|---|"]
    for r in runs:
        x = r.reports[0]
        rows.append(f"| {r.model} | {r.collection} | {r.passages} | {r.build_rate:.1f} | "
                    f"{x.metrics.get('latency_p50_ms', math.nan):.1f} | {x.mode} | "
                    f"{x.metrics['recall@5']:.3f} | {x.metrics['mrr@10']:.3f} |")
    return "\n".join(rows)


def write_reports(runs: list[Run], out_dir: str | Path, *, collections: list[Collection]) -> Path:
    """report.md and report.json over all runs, and each run's own report in a subfolder."""
    from assistant.evaluation.evaluate import load_grades, write_report
    from assistant.index.folder import load_index

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    by_name = {c.name: c for c in collections}
    for r in runs:
        idx = load_index(r.index_dir)  # for the report's metadata (model, fingerprint, passages)
        c = by_name[r.collection]
        grades = load_grades(c.qrels) if c.qrels is not None and c.qrels.is_file() else None
        write_report(list(r.reports), out / f"{r.collection}-{r.model}", queries_path=str(c.queries), index=idx,
                     grades=grades)
    data = to_json(runs)
    data["written_at"] = time.strftime("%Y-%m-%dT%H:%M:%S%z")
    (out / "report.json").write_text(json.dumps(_no_nan(data), indent=1, ensure_ascii=False) + "\n")
    md = ["# Evaluation over collections\n", f"{data['written_at']}. recall@5 / MRR@10 side by side:\n",
          side_by_side(runs), "\n## Mean over collections\n", mean_table(runs)]
    for name in dict.fromkeys(r.collection for r in runs):
        md += [f"\n## {name}\n", f"Query set `{by_name[name].queries}`.\n", collection_table(runs, name)]
    md += ["\n## Models: cost and quality\n", cost_table(runs),
           "\nEach collection's full report (per tag, per question) is in its `<collection>-<model>/` folder."]
    (out / "report.md").write_text("\n".join(md) + "\n")
    return out


def _no_nan(v):
    """JSON has no NaN: a figure that does not apply (no unanswerable questions) is null."""
    if isinstance(v, float) and math.isnan(v):
        return None
    if isinstance(v, dict):
        return {k: _no_nan(x) for k, x in v.items()}
    if isinstance(v, list):
        return [_no_nan(x) for x in v]
    return v


def _fmt(name: str, v) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "—"
    if name.endswith("_ms"):
        return f"{v:.1f}"
    return f"{v:.3f}" if isinstance(v, float) else str(v)
