"""The command line: ``assistant build | add | remove | ask | eval | serve``.

Owns argument parsing, the process environment (threads, offline mode: read and
set here and nowhere else), printing, and turning our errors into one message
and a non-zero exit code. Heavy imports happen inside the commands.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from assistant.errors import AssistantError
from assistant.ingest.formats import SUFFIXES
from assistant.search.request import DEFAULT_K, DEFAULT_MODE, MAX_K, MODES

if TYPE_CHECKING:
    from assistant.encoders.embed import Encoder

DEFAULT_CORPUS = "corpus"
DEFAULT_INDEX = "index"
DEFAULT_QUERIES = "eval/queries.jsonl"


def main(argv: list[str] | None = None, *, encoder: Encoder | None = None) -> int:
    """Run the CLI; returns the exit code (0 ok, 1 our error, 2 usage).

    Args:
        argv: the arguments after the program name (default: ``sys.argv[1:]``).
        encoder: the encoder to build and answer with, instead of loading the
            model named by ``--model`` or the index (tests pass a tiny one).
    """
    parser = _parser()
    args = parser.parse_args(argv)
    if not getattr(args, "handler", None):
        parser.print_help()
        return 2
    try:
        _check_paths(args)
        _prepare_runtime(args)
        return int(args.handler(args, encoder) or 0)
    except AssistantError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # the reader went away (`assistant ask ... | head -1`): stop quietly, as Unix tools do
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141


def _check_paths(args: argparse.Namespace) -> None:
    """Refuse folder names the index cannot be written to or read from (FAISS takes
    only UTF-8 paths): bytes that are not UTF-8 reach Python as lone surrogates."""
    from assistant.search.request import check_text

    for flag in ("index", "corpus"):
        value = getattr(args, flag, None)
        if isinstance(value, str):
            check_text(value, what=f"the --{flag} folder name {value!r}")


def _prepare_runtime(args: argparse.Namespace) -> None:
    # Before torch is imported: never reach for the network, and keep OpenMP
    # threads from spinning, which costs 10x latency when the other core is busy.
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    threads = getattr(args, "threads", None)
    if threads is None and os.environ.get("ASSISTANT_THREADS"):
        try:
            threads = _positive(os.environ["ASSISTANT_THREADS"])
        except (ValueError, argparse.ArgumentTypeError):
            raise AssistantError(
                f"ASSISTANT_THREADS={os.environ['ASSISTANT_THREADS']!r} is not a positive whole number"
            ) from None
    if not threads and args.handler not in (cmd_build, cmd_add, cmd_remove):
        # One question at a time is fastest on one thread: measured p50 33 ms / p95 45 ms
        # against 66 / 450 ms with two (scripts/bench_ask.py). Builds batch, so they keep torch's default.
        threads = 1
    if threads:
        os.environ["OMP_NUM_THREADS"] = str(threads)
        args.threads = int(threads)


def _onnx_dir() -> Path | None:
    """Where ONNX exports of models live ($ASSISTANT_ONNX_DIR, else inside the
    environment); None when ASSISTANT_ONNX=0 asks for PyTorch."""
    from assistant.encoders.onnx import default_onnx_dir

    if os.environ.get("ASSISTANT_ONNX", "1").strip() in ("0", "false", "no"):
        return None
    return Path(os.environ["ASSISTANT_ONNX_DIR"]) if os.environ.get("ASSISTANT_ONNX_DIR") else default_onnx_dir()


def _open(args: argparse.Namespace, encoder: Encoder | None, index=None):
    from assistant.pipeline.service import Assistant

    assistant = Assistant.open(
        args.index, model=args.model, encoder=encoder, threads=args.threads,
        reranker=getattr(args, "reranker", None), index=index, onnx_dir=None if encoder else _onnx_dir(),
    )
    for note in assistant.index.notes:
        print(f"note: {note}", file=sys.stderr)
    return assistant


def _export_onnx(model: str) -> None:
    """Export the model for answering without PyTorch (once per model); a model
    that cannot be exported is answered with PyTorch."""
    from assistant.encoders.onnx import ensure_export

    onnx_dir = _onnx_dir()
    if onnx_dir is None:
        return
    try:
        made = ensure_export(model, onnx_dir=onnx_dir)
    except Exception as e:  # the exporter raises many types; the index is built either way
        made = None
        print(f"warning: no ONNX export of {model} ({type(e).__name__}: {str(e)[:120]})", file=sys.stderr)
    if made is None:
        print(f"note: {model} is answered with PyTorch (no ONNX export), which starts slower", file=sys.stderr)


def _backend(args: argparse.Namespace):
    """``--backend`` and where ``--qdrant-url``, ``--qdrant-path`` or ``--qdrant-edge`` points
    (a Place, or None when none is given); any of them alone means ``--backend qdrant``."""
    from assistant.index.qdrant import Place

    given = [o for o, v in (("--qdrant-url", args.qdrant_url), ("--qdrant-path", args.qdrant_path),
                            ("--qdrant-edge", getattr(args, "qdrant_edge", None))) if v]
    if len(given) > 1:
        raise AssistantError(f"give one of --qdrant-url, --qdrant-path or --qdrant-edge, not {' and '.join(given)}")
    layout = {"shards": getattr(args, "qdrant_shards", None) or 0, "replicas": getattr(args, "qdrant_replicas", None) or 0}
    if any(layout.values()) and not args.qdrant_url:
        raise AssistantError("--qdrant-shards and --qdrant-replicas go with --qdrant-url (a server or cluster)")
    if not given:
        if args.collection:
            raise AssistantError("--collection needs --qdrant-url, --qdrant-path or --qdrant-edge")
        return args.backend, None
    if args.backend not in (None, "qdrant"):
        raise AssistantError(f"{given[0]} goes with --backend qdrant")
    return "qdrant", Place(alias=args.collection or "passages", url=args.qdrant_url or "", path=args.qdrant_path or "",
                           edge=getattr(args, "qdrant_edge", None) or "", **layout)


def cmd_build(args: argparse.Namespace, encoder: Encoder | None = None) -> int:
    from assistant.pipeline.api import build

    backend, qdrant = _backend(args)
    report = build(
        args.corpus, index=args.index, model=args.model, encoder=encoder, threads=args.threads,
        batch_size=args.batch_size, follow_links=args.follow_links, max_file_bytes=args.max_file_mb * 1024 * 1024,
        index_type=args.index_type, backend=backend, qdrant=qdrant, progress=True, fresh=args.fresh,
    )
    _print_skipped(report)
    if encoder is None:  # an encoder passed in (tests) is not the named model: nothing to export
        from assistant.encoders.models import canonical_name

        _export_onnx(canonical_name(args.model))  # under the name the manifest records
    _print_update(args, report, f"indexed {_count(report.documents, 'document')}, {_count(report.passages, 'passage')} "
                                f"into {report.index_dir} in {report.seconds:.1f} s")
    return 0


def cmd_add(args: argparse.Namespace, encoder: Encoder | None = None) -> int:
    from assistant.pipeline.api import add

    report = add(args.files, index=args.index, model=args.model, encoder=encoder, threads=args.threads,
                 batch_size=args.batch_size, progress=True)
    _print_skipped(report)
    _print_update(args, report, f"{report.index_dir}: {_count(report.documents, 'document')}, {_count(report.passages, 'passage')}")
    return 1 if report.skipped else 0


def cmd_remove(args: argparse.Namespace, encoder: Encoder | None = None) -> int:
    from assistant.pipeline.api import remove

    report = remove(args.names, index=args.index, model=args.model, encoder=encoder, threads=args.threads)
    _print_update(args, report, f"{report.index_dir}: {_count(report.documents, 'document')}, {_count(report.passages, 'passage')}")
    return 0


def _print_skipped(report) -> None:
    from assistant.answer.model import one_line

    for s in report.skipped:
        print(f"skipped {one_line(s.path)}: {s.reason}", file=sys.stderr)


def _print_update(args: argparse.Namespace, report, headline: str) -> None:
    for note in report.notes:
        print(f"note: {note}", file=sys.stderr)
    if args.json:
        print(json.dumps({"index": report.index_dir, "documents": report.documents, "passages": report.passages,
                          "added": list(report.added), "updated": list(report.updated),
                          "removed": list(report.removed), "unchanged": report.unchanged,
                          "encoded": report.encoded, "reused": report.reused,
                          "skipped": [s.__dict__ for s in report.skipped], "seconds": report.seconds}))
    else:
        skipped = f"; skipped {len(report.skipped)}, listed above" if report.skipped else ""
        print(f"{headline}{skipped}")
        print(f"documents: {report.summary()}; encoded {_count(report.encoded, 'text')}, {report.reused} from the cache")


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" + ("" if n == 1 else "s")


def cmd_check(args: argparse.Namespace, encoder: Encoder | None = None) -> int:
    """Verify everything a load may skip on a large index: every file's SHA-256 and
    every passage against its document's text (damage raises IndexLoadError: exit 1),
    and whether its corpus changed since (stale: named on stderr, exit 1)."""
    import time

    from assistant.index.folder import file_sizes, load_index
    from assistant.index.qdrant import Place
    from assistant.index.sources import stale_message

    t0 = time.perf_counter()
    index = load_index(args.index, verify=True)
    sizes = file_sizes(Path(args.index))
    q = index.manifest.qdrant if index.manifest.backend == "qdrant" else None
    held = (f"Qdrant collection {q['collection']} at {Place.of_json(q).where()}" if q
            else f"{len(sizes)} files, {sum(sizes.values()) / 1e6:.1f} MB")
    print(f"{args.index}: intact: {held}, {_count(len(index.passages), 'passage')} and "
          f"{_count(index.manifest.sentences, 'sentence')} present, each passage checked against its document "
          f"in {time.perf_counter() - t0:.1f} s")
    for note in index.notes:
        print(f"note: {note}", file=sys.stderr)
    fresh = index.freshness
    if fresh is not None and fresh.stale:
        print(f"stale: {stale_message(fresh, corpus_dir=index.files.corpus_dir, index_dir=Path(args.index))}; "
              "until then answers withhold the documents of changed and missing files", file=sys.stderr)
        return 1
    return 0


def cmd_ask(args: argparse.Namespace, encoder: Encoder | None = None) -> int:
    from assistant.answer.json_format import to_json
    from assistant.answer.terminal import to_text
    from assistant.cli.batch import read_batch
    from assistant.errors import QueryError
    from assistant.search.request import clean_query, make_request

    if args.batch is None and args.question is None:
        raise QueryError('give a question, e.g. assistant ask "What happens in prison camps?", or --batch FILE')
    if args.batch is not None and args.question is not None:
        raise QueryError("give either a question or --batch FILE, not both")
    if args.export:
        _check_export(args)
    # Everything that can be checked without the index fails before the model loads.
    request = make_request(k=args.k, mode=args.mode, doc_ids=args.doc, organizations=args.org,
                           date_from=args.date_from, date_to=args.date_to)
    if args.batch is not None:
        return _ask_batch(args, encoder, read_batch(args.batch), request)
    clean_query(args.question)
    assistant = _open(args, encoder)
    answer = assistant.ask(args.question, k=request.k, mode=request.mode, where=request.where)
    if args.export:
        _export(answer, args.export)
    if args.json:
        print(json.dumps(to_json(answer), ensure_ascii=False))
    else:
        print(to_text(answer, color=sys.stdout.isatty(), documents=assistant.documents))
    return 0


def _ask_batch(args: argparse.Namespace, encoder: Encoder | None, lines, request) -> int:
    """Answer a batch file's lines in order, one JSON answer a line; a line that cannot
    be answered is named on standard error and the others are still answered."""
    from collections import deque

    from assistant.answer.json_format import to_json
    from assistant.errors import QueryError
    from assistant.pipeline.service import Question

    assistant = _open(args, encoder)
    read = deque()  # lines handed to ask_many and not yet answered, in order

    def questions():
        for line in lines:
            read.append(line)
            yield Question(line.query, line.qid) if line.problem is None else QueryError(line.problem)

    failures = total = 0
    for result in assistant.ask_many(questions(), k=request.k, mode=request.mode, where=request.where):
        line, total = read.popleft(), total + 1
        if isinstance(result, QueryError):
            failures += 1
            print(f"error: {args.batch}: line {line.number} skipped: {result}", file=sys.stderr)
        else:
            print(json.dumps(to_json(result), ensure_ascii=False), flush=True)
    if failures:
        print(f"error: {failures} of {total} lines could not be answered (named above); "
              f"the other {total - failures} were answered", file=sys.stderr)
    return 1 if failures else 0


def _check_export(args: argparse.Namespace) -> None:
    from assistant.answer.export import format_of
    from assistant.errors import QueryError

    if args.batch is not None:
        raise QueryError("--export writes one answer: give a question, not --batch")
    format_of(args.export)  # an unknown format fails before the model loads


def _export(answer, path: str) -> None:
    from assistant.answer.export import export_record, write_export

    print(f"exported to {write_export(export_record(answer), path)}", file=sys.stderr)


def _verify(args: argparse.Namespace, encoder: Encoder | None = None) -> int:
    from assistant.cli.verify import cmd_verify

    return cmd_verify(args)


def cmd_eval(args: argparse.Namespace, encoder: Encoder | None = None) -> int:
    from assistant.evaluation import run

    modes, models = run.parse_modes(args.mode), run.parse_models(args.model)

    def log(line: str) -> None:
        print(line, file=sys.stderr)

    backend, qdrant = _backend(args)
    if backend == "qdrant" and qdrant is None:
        raise AssistantError("eval --backend qdrant needs --qdrant-url URL, --qdrant-path FOLDER or --qdrant-edge FOLDER")
    if args.collections or len(models) > 1 or args.corpus:
        models = models or ("minilm",)
        collections = run.choose_collections(
            names=args.collections, registry=args.registry, queries=args.queries, corpus=args.corpus,
            index_dir=args.index, qrels=args.qrels, reranker=args.reranker,
        )
        onnx_dir = _onnx_dir()
        if encoder is None:
            from assistant.encoders.models import canonical_name

            for m in models:
                _export_onnx(canonical_name(m))  # answer with the same kind of encoder for every model, so latencies compare
        result = run.evaluate_collections(
            collections, models=models, modes=modes, cache=Path(args.index_cache), report_dir=args.report_dir,
            name=args.name, threads=args.threads, build_threads=os.cpu_count(), onnx_dir=onnx_dir, encoder=encoder,
            progress=sys.stderr.isatty(), log=log, qdrant=qdrant,
        )
    else:
        result = run.evaluate_index(
            args.index, queries=args.queries, modes=modes, report_dir=args.report_dir, name=args.name,
            qrels=args.qrels, registry=args.registry, model=args.model, encoder=encoder, threads=args.threads,
            reranker=args.reranker, onnx_dir=None if encoder else _onnx_dir(), log=log,
        )
    print(json.dumps(result.to_json(), indent=1) if args.json else result.summary())
    return 0


def cmd_calibrate(args: argparse.Namespace, encoder: Encoder | None = None) -> int:
    from assistant.evaluation.tune import tune

    tuned = tune(
        args.index, args.queries, qrels=args.qrels, k=args.k, max_refused=args.max_refused, keep=args.keep_answers,
        write=not args.dry_run, reset=args.reset, model=args.model, encoder=encoder,
    )
    print(json.dumps(tuned.to_json(), indent=1) if args.json else tuned.summary())
    return 0


def cmd_serve(args: argparse.Namespace, encoder: Encoder | None = None) -> int:
    from assistant.web.app import serve

    assistant = _open(args, encoder)  # model and index load once, here
    uploads = None
    if args.allow_uploads:
        from assistant.web.uploads import UploadSettings

        folder = Path(args.upload_dir) if args.upload_dir else Path(assistant.index.manifest.corpus_dir) / "uploads"
        uploads = UploadSettings(folder=folder.resolve(), max_bytes=int(args.max_upload_mb * 1_000_000))

    def document_encoder():
        if encoder is not None:  # the caller's encoder embeds uploaded documents too
            return encoder
        from assistant.encoders.embed import SentenceTransformerEncoder

        return SentenceTransformerEncoder(assistant.index.manifest.model, threads=args.threads)

    serve(assistant, host=args.host, port=args.port, title=args.title, queries=args.queries,
          uploads=uploads, document_encoder=document_encoder)
    return 0


def _positive(text: str) -> int:
    n = int(text)
    if n < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return n


def _positive_mb(text: str) -> float:
    try:
        n = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError("must be a number of megabytes") from None
    if not 0 < n <= 10_000:
        raise argparse.ArgumentTypeError("must be more than 0 and at most 10000")
    return n


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="assistant",
        description="Answer questions about a document collection with verbatim, cited quotes.",
    )
    sub = p.add_subparsers(metavar="COMMAND")

    def common(sp: argparse.ArgumentParser, *, model_default: str | None, json_output: bool = True) -> None:
        sp.add_argument("--index", default=DEFAULT_INDEX, help="index folder (default: %(default)s)")
        sp.add_argument("--model", default=model_default,
                        help="model: minilm (all-MiniLM-L6-v2, packaged), mpnet (all-mpnet-base-v2, `make mpnet`), "
                        "or a local sentence-transformers folder; eval compares several, comma-separated"
                        + (" (default: %(default)s, shipped in a package)" if model_default else
                           " (default: the one the index was built with)"))
        sp.add_argument("--threads", type=_positive, default=None,
                        help="CPU threads for the encoder (default: $ASSISTANT_THREADS, else 1 to answer and all cores to build)")
        if json_output:
            sp.add_argument("--json", action="store_true", help="print JSON instead of text")

    def reranker(sp: argparse.ArgumentParser) -> None:
        sp.add_argument("--reranker", metavar="NAME",
                        help="a local sentence-transformers CrossEncoder that re-orders the top 20")

    def qdrant_options(sp: argparse.ArgumentParser) -> None:
        sp.add_argument("--backend", choices=("embedded", "qdrant"), default=None,
                        help="where the index lives: files in the index folder (embedded) or Qdrant collections, the "
                             "folder keeping only the manifest (docs/qdrant.md); default: what the last build used, "
                             "else embedded")
        sp.add_argument("--qdrant-url", metavar="URL", help="a Qdrant server or cluster (API key: $QDRANT_API_KEY)")
        sp.add_argument("--qdrant-path", metavar="FOLDER", help="Qdrant local mode in this folder (one process at a time)")
        sp.add_argument("--qdrant-edge", metavar="FOLDER",
                        help="Qdrant's own engine in process (qdrant-edge-py), its collections in this folder (one "
                             "process at a time)")
        sp.add_argument("--collection", metavar="NAME",
                        help="the Qdrant alias readers use; a first build (or --fresh) writes NAME-<time> and "
                             "switches it, later builds, add and remove change it in place (default: passages)")

    b = sub.add_parser("build", help="build the index from a corpus folder")
    b.add_argument("--qdrant-shards", type=_positive, metavar="N",
                   help="on a Qdrant cluster: shards of a new collection (default: the server's, one per node)")
    b.add_argument("--qdrant-replicas", type=_positive, metavar="N",
                   help="on a Qdrant cluster: copies of each shard (default: the server's, 1); 2 survives a node's loss")
    b.add_argument("--fresh", action="store_true",
                   help="on Qdrant: write a new collection and switch the alias (readers switch in one step) instead "
                        "of changing the collection in place")
    b.add_argument("--corpus", default=DEFAULT_CORPUS,
                   help=f"folder of {' '.join(SUFFIXES)} documents, read recursively (default: %(default)s)")
    b.add_argument("--follow-links", action="store_true", help="also read links that lead out of the corpus folder")
    b.add_argument("--max-file-mb", type=_positive, default=50, help="skip larger files (default: %(default)s MB)")
    b.add_argument("--index-type", choices=("auto", "flat", "hnsw", "ivf-sq8"), default=None,
                   help="the dense (FAISS) index: auto chooses by size (exact flat up to 50,000 passages, "
                        "then IVF-SQ8); default: what the index's last build used, else auto")
    b.add_argument("--batch-size", type=_positive, default=32, help="texts per encoder call (default: %(default)s)")
    qdrant_options(b)
    common(b, model_default="all-MiniLM-L6-v2")
    b.set_defaults(handler=cmd_build)

    ad = sub.add_parser("add", help="add files to an index (or refresh them), encoding only what is new")
    ad.add_argument("files", nargs="+", metavar="FILE", help="files to add; from anywhere (outside the corpus folder too)")
    ad.add_argument("--batch-size", type=_positive, default=32, help="texts per encoder call (default: %(default)s)")
    common(ad, model_default=None)
    ad.set_defaults(handler=cmd_add)

    rm = sub.add_parser("remove", help="remove documents from an index, by id or file")
    rm.add_argument("names", nargs="+", metavar="FILE|DOC_ID", help="document ids or indexed files")
    common(rm, model_default=None)
    rm.set_defaults(handler=cmd_remove)

    c = sub.add_parser("check", help="verify an index: every file's checksum and every passage")
    c.add_argument("--index", default="index", help="index folder (default: %(default)s)")
    c.set_defaults(handler=cmd_check)

    a = sub.add_parser("ask", help="answer a question with quoted, cited passages")
    a.add_argument("question", nargs="?", help="the question")
    a.add_argument("-k", default=DEFAULT_K, help=f"number of quotes, 1 to {MAX_K} (default: %(default)s)")
    a.add_argument("--mode", default=DEFAULT_MODE, metavar="{" + ",".join(MODES) + "}",
                   help="retrieval mode (default: %(default)s)")
    a.add_argument("--batch", metavar="FILE", help='JSON lines {"id": ..., "query": ...}; "-" reads stdin')
    a.add_argument("--doc", action="append", help="only this document id (repeatable)")
    a.add_argument("--org", action="append", help="only this organisation (repeatable)")
    a.add_argument("--date-from", help="only passages dated on or after (YYYY, YYYY-MM or YYYY-MM-DD)")
    a.add_argument("--date-to", help="only passages dated on or before")
    reranker(a)
    common(a, model_default=None)
    a.add_argument("--export", metavar="FILE",
                   help="also write the answer with its sources and provenance to FILE: .md .docx .csv .csl.json "
                        "or .json (the record `assistant verify` checks)")
    a.set_defaults(handler=cmd_ask)

    v = sub.add_parser("verify", help="check an exported answer's quotes against the source files (no index, no model)")
    v.add_argument("export", metavar="EXPORT", help="the .json file `assistant ask --export` wrote")
    v.add_argument("--corpus", metavar="DIR", action="append",
                   help="a folder to search (recursively) for files by their SHA-256 when a quoted file is not at its "
                        "recorded path (repeatable)")
    v.add_argument("--json", action="store_true", help="print JSON instead of text")
    v.set_defaults(handler=_verify)

    e = sub.add_parser("eval", help="evaluate retrieval on a query set with gold quotes")
    e.add_argument("--queries", default=DEFAULT_QUERIES, help="JSON-lines query set (default: %(default)s)")
    e.add_argument("--mode", action="append",
                   help="modes to compare, comma-separated or repeated (default: hybrid,tokens,rrf,dense,keyword)")
    e.add_argument("--report-dir", default="eval/reports", help="where reports go (default: %(default)s)")
    e.add_argument("--name", help="report folder name (default: date and time)")
    e.add_argument("--collections", metavar="all|NAME,...",
                   help="evaluate these collections of the registry side by side, with the mean over them")
    e.add_argument("--registry", default="eval/collections.json", help="collections registry (default: %(default)s)")
    e.add_argument("--qrels", help="graded judgments (TREC qrels: QID 0 PASSAGE_ID GRADE) for the measures of what "
                   "answers show (default: the registry's for this query set)")
    e.add_argument("--corpus", help="with --queries and several models: the corpus to index with each "
                   "(default: the one --index was built from)")
    e.add_argument("--index-cache", default="eval/collections",
                   help="where an index per collection and model is kept, as NAME/index/MODEL (default: %(default)s)")
    e.add_argument("--backend", choices=("embedded", "qdrant"), default=None,
                   help="with --collections: build the indexes on Qdrant (with --qdrant-url, --qdrant-path or --qdrant-edge; "
                        "a collection each, named as the collection); an index of the other backend is rebuilt")
    e.add_argument("--qdrant-url", metavar="URL", help="with --backend qdrant: a Qdrant server ($QDRANT_API_KEY)")
    e.add_argument("--qdrant-path", metavar="FOLDER", help="with --backend qdrant: Qdrant local mode in this folder")
    e.add_argument("--qdrant-edge", metavar="FOLDER", help="with --backend qdrant: Qdrant's engine in process, in this folder")
    e.set_defaults(collection=None)
    reranker(e)
    common(e, model_default=None)
    e.set_defaults(handler=cmd_eval)

    cal = sub.add_parser(
        "calibrate", help="fit the index's refusal threshold and evidence ratio to questions you judged",
        description="Ask judged questions (eval's format: answerable ones with gold quotes, unanswerable ones with "
                    "none) and record in the index the refusal threshold that refuses at most --max-refused of the "
                    "answerable ones (with a margin) and the strictest evidence ratio that keeps --keep-answers of "
                    "their answers. Later changes to the index keep the fitted values; --reset puts back the "
                    "build's own calibration.")
    cal.add_argument("--queries", required=True, help="JSON-lines judged questions (the format of eval/queries.jsonl)")
    cal.add_argument("--qrels", help="graded judgments of the passages shown (TREC qrels: QID 0 PASSAGE_ID GRADE); "
                     "without them a passage holding a gold quote states the answer and any other is unrelated")
    cal.add_argument("-k", type=int, default=5, help="the most quotes an answer shows (default: %(default)s)")
    cal.add_argument("--max-refused", type=float, default=0.03,
                     help="share of answerable questions that may be refused (default: %(default)s)")
    cal.add_argument("--keep-answers", type=float, default=0.95,
                     help="share of answers that must still show a quote stating the answer (default: %(default)s)")
    cal.add_argument("--dry-run", action="store_true", help="show what would be fitted without recording it")
    cal.add_argument("--reset", action="store_true", help="put back the build's own calibration")
    common(cal, model_default=None)
    cal.set_defaults(handler=cmd_calibrate)

    s = sub.add_parser("serve", help="start the web chat")
    s.add_argument("--host", default="127.0.0.1", help="address to listen on (default: %(default)s)")
    s.add_argument("--port", type=int, default=7860, help="port to listen on (default: %(default)s)")
    s.add_argument("--title", help="the chat's title (default: from the corpus folder's name)")
    s.add_argument("--queries", metavar="FILE",
                   help="a query set for this collection (JSON lines with \"query\", or one question a line): "
                   "its questions become the chat's examples (default: questions about the collection's headings)")
    s.add_argument("--allow-uploads", action="store_true",
                   help="let visitors add files to the collection and remove documents (off: a shared server "
                   "must not let every visitor change it)")
    s.add_argument("--max-upload-mb", type=_positive_mb, default=50,
                   help="largest file an upload may be, in MB (default: %(default)s)")
    s.add_argument("--upload-dir", metavar="DIR",
                   help="where uploaded files are stored (default: the corpus folder's uploads/)")
    reranker(s)
    common(s, model_default=None, json_output=False)
    s.set_defaults(handler=cmd_serve)
    return p


def main_exit() -> None:
    """Console-script entry point (also ``python -m assistant``)."""
    # A path given as bytes that are not UTF-8 comes back in messages and output as
    # lone surrogates; print them as \udcff escapes (still valid JSON) rather than fail.
    for stream in (sys.stdout, sys.stderr):
        if hasattr(stream, "reconfigure"):
            stream.reconfigure(errors="backslashreplace")
    sys.exit(main())
