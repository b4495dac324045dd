"""The Qdrant backend against a real Qdrant server or cluster, when ``QDRANT_URL`` names one
(``QDRANT_API_KEY`` too if it wants a key); skipped, saying so, when it does not.

    QDRANT_URL=http://localhost:6333 .venv/bin/python -m pytest tests/test_qdrant_server.py

Each test writes collections under an alias of its own (``assistant-test-<random>``) and
drops them at the end. What is checked: a build on the server answers every mode and
filter as the embedded index does (the server's HNSW, payload indexes and IDF, not local
mode's), add and remove change the collection in place with the embedded index's answers,
and ``check`` passes.
"""

from __future__ import annotations

import os
import re
import uuid

import pytest

from assistant.cli.main import main
from assistant.index import qdrant
from assistant.index.folder import read_manifest
from conftest import TinyEncoder, write_corpus
from test_qdrant import QUESTIONS, answer, build, same

URL = os.environ.get("QDRANT_URL", "")
pytestmark = pytest.mark.skipif(
    not URL, reason="no Qdrant server: set QDRANT_URL=http://HOST:6333 (and QDRANT_API_KEY if it wants one) to run these")


@pytest.fixture
def alias():
    name = f"assistant-test-{uuid.uuid4().hex[:8]}"
    yield name
    place = qdrant.Place(alias=name, url=URL)
    c = qdrant.client(place)
    for found in c.get_collections().collections:
        if re.match(rf"{re.escape(name)}-", found.name):
            c.delete_collection(found.name)


def test_a_server_index_answers_every_mode_and_filter_as_the_embedded_one(tmp_path, alias, capsys):
    build(capsys, tmp_path / "embedded")
    build(capsys, tmp_path / "server", "--qdrant-url", URL, "--collection", alias)
    assert {p.name for p in (tmp_path / "server").iterdir()} <= {"manifest.json", "cache"}
    assert read_manifest(tmp_path / "server")[0].qdrant["url"] == URL
    for question in QUESTIONS:
        for mode in ("hybrid", "tokens", "rrf", "dense", "keyword"):
            same(answer(capsys, tmp_path / "server", question, "--mode", mode),
                 answer(capsys, tmp_path / "embedded", question, "--mode", mode))
        for filtered in (("--date-from", "2005", "-k", "3"), ("--org", "Amnesty", "--date-to", "2010")):
            same(answer(capsys, tmp_path / "server", question, *filtered),
                 answer(capsys, tmp_path / "embedded", question, *filtered))
    assert main(["check", "--index", str(tmp_path / "server")]) == 0


def test_add_and_remove_on_a_server_answer_as_the_embedded_index(tmp_path, alias, capsys):
    corpus = write_corpus(tmp_path / "corpus")
    index, embedded = tmp_path / "index", tmp_path / "embedded"
    build(capsys, index, "--qdrant-url", URL, "--collection", alias, corpus=corpus)
    build(capsys, embedded, corpus=corpus)
    extra = tmp_path / "extra.txt"
    extra.write_text("The harbour of Wonsan froze in the winter of 1998.\n\nFishing boats stayed in port.\n")
    for command in ("add", "remove"):
        for target in (index, embedded):
            assert main([command, str(extra), "--index", str(target)], encoder=TinyEncoder()) == 0
        capsys.readouterr()
        for question in ("harbour of Wonsan froze", *QUESTIONS):
            same(answer(capsys, index, question), answer(capsys, embedded, question))
    assert main(["check", "--index", str(index)]) == 0
