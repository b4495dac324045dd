"""Building and changing an index from Python: ``build``, ``add`` and ``remove``.

Thin functions over the index writer (:mod:`assistant.pipeline.build`) that
also load the encoder when none is given: the named model for a build, the
model an existing index was built with for ``add`` and ``remove``. Each returns
the writer's report of what it did.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from assistant.encoders.embed import DEFAULT_MODEL, Encoder
from assistant.index.qdrant import Place
from assistant.ingest.corpus import DEFAULT_MAX_FILE_BYTES
from assistant.pipeline.build import add_documents, build_index, remove_documents

if TYPE_CHECKING:
    from assistant.pipeline.build import UpdateReport


def build(
    corpus: str | Path,
    *,
    index: str | Path,
    model: str = DEFAULT_MODEL,
    encoder: Encoder | None = None,
    threads: int | None = None,
    batch_size: int = 32,
    follow_links: bool = False,
    max_file_bytes: int = DEFAULT_MAX_FILE_BYTES,
    index_type: str | None = None,
    backend: str | None = None,
    qdrant: Place | None = None,
    progress: bool = False,
    fresh: bool = False,
) -> UpdateReport:
    """Index a corpus folder into ``index``, encoding only texts its cache does not hold.

    Args:
        corpus: folder of .txt .md .html .pdf .docx documents, read recursively.
        index: the index folder to write (replaced as a whole when the build succeeds).
        model: the sentence-transformers model: "minilm" (packaged), "mpnet", or a local folder.
        encoder: encode with this instead of loading ``model``.
        threads: CPU threads for the encoder (None: all cores).
        batch_size: texts per encoder call.
        follow_links: also read links that lead out of the corpus folder.
        max_file_bytes: larger files are skipped (listed in the report).
        index_type: "auto", "flat", "hnsw" or "ivf-sq8" (None: what the last build used, else auto).
        backend: "embedded" (FAISS and bm25s files) or "qdrant" (None: what the last build used, else embedded).
        qdrant: for "qdrant", the server or local folder and the alias (None: where the last build wrote).
        fresh: on Qdrant, write a new collection and switch the alias instead of changing the
            collection in place (what a later build does by default).
        progress: show progress bars on standard error.

    Raises:
        CorpusError: no readable document, or ``index`` is not ours to write.
        ModelError: the model cannot be loaded.
        IndexBusyError: another build, add or remove is changing the same index.
    """
    return build_index(
        corpus, encoder=encoder or _encoder(model, threads), out_dir=index, batch_size=batch_size,
        progress=progress, follow_links=follow_links, max_file_bytes=max_file_bytes, index_type=index_type,
        backend=backend, qdrant=qdrant, fresh=fresh,
    )


def add(
    paths: Sequence[str | Path],
    *,
    index: str | Path,
    model: str | None = None,
    encoder: Encoder | None = None,
    threads: int | None = None,
    batch_size: int = 32,
    progress: bool = False,
) -> UpdateReport:
    """Add files (from anywhere) to an index, or refresh them, encoding only what is new.

    Files that cannot be read are listed in the report's ``skipped``; the others are added.

    Args:
        model: the model to encode with (default: the one the index was built with).
        encoder, threads, batch_size, progress: as for :func:`build`.

    Raises:
        IndexLoadError: there is no usable index at ``index``.
        CorpusError: none of ``paths`` could be read, or a document id is taken.
        IndexBusyError: another writer holds the index.
    """
    return add_documents(index, paths, encoder=encoder or _index_encoder(index, model, threads),
                         batch_size=batch_size, progress=progress)


def remove(
    doc_ids: Sequence[str | Path],
    *,
    index: str | Path,
    model: str | None = None,
    encoder: Encoder | None = None,
    threads: int | None = None,
) -> UpdateReport:
    """Remove documents, named by id or by indexed file, from an index.

    Raises:
        QueryError: a name is neither a document id nor an indexed file (nothing is
            changed), or removing them would leave the index empty.
        IndexLoadError, IndexBusyError: as for :func:`add`.
    """
    return remove_documents(index, doc_ids, encoder=encoder or _index_encoder(index, model, threads))


def _encoder(model: str, threads: int | None) -> Encoder:
    from assistant.encoders.embed import SentenceTransformerEncoder

    return SentenceTransformerEncoder(model, threads=threads)


def _index_encoder(index: str | Path, model: str | None, threads: int | None) -> Encoder:
    """The model an existing index was built with (add and remove must use it)."""
    from assistant.index.folder import load_index, read_manifest

    if not model:
        if not (Path(index) / "manifest.json").is_file():
            load_index(index, check_corpus=False)  # raises the message that says what to run
        model = read_manifest(Path(index))[0].model
    return _encoder(model, threads)
