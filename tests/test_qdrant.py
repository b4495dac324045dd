"""The Qdrant backend end to end, in qdrant-client's local mode and on Qdrant's own engine in
process (qdrant-edge-py), each in a folder in /dev/shm when there is one:
``build --backend qdrant`` answers every mode and filter as the embedded index does, add and
remove change the collection in place and still answer as the embedded index does, a fresh
build switches the alias, a killed change leaves nothing behind, two writers are refused, and a reader that
cannot reach the server (nothing listening, or a server stopped mid-way) gets one line
while the chat stays up. The backend's contract against brute force is in test_backends.py."""

from __future__ import annotations

import json
import shutil
import tempfile
from dataclasses import replace
from pathlib import Path

import pytest

from assistant.cli.main import main
from assistant.errors import IndexBusyError
from assistant.index import qdrant
from assistant.index.folder import read_manifest
from assistant.index.lock import writer_lock
from conftest import DEFAULT_CORPUS, TinyEncoder, write_corpus
from qdrant_server import FakeQdrant

QUESTIONS = ["What happens to North Koreans who are forcibly returned from China?", "public executions",
             "food shortages and famine in 1997"]
TIMINGS = {"seconds", "latency_ms", "timings"}
# the provenance of an answer names its index and the moment: two indexes, two moments
IDENTITY = {"answered_at", "index_id", "index_path", "built_at", "dense_index"}


@pytest.fixture
def folder():
    """A local-mode Qdrant folder (closed and removed after the test)."""
    made = tempfile.mkdtemp(prefix="qdrant-", dir="/dev/shm" if Path("/dev/shm").is_dir() else None)
    yield made
    qdrant.close(qdrant.Place(alias="x", path=made))
    shutil.rmtree(made, ignore_errors=True)


@pytest.fixture(params=["local-mode", "engine"])
def engine(request):
    """Where a test's index lives: qdrant-client's local mode, or Qdrant's own engine in
    process (qdrant-edge-py); ``engine.option`` is the build option naming it."""
    made = tempfile.mkdtemp(prefix="qdrant-", dir="/dev/shm" if Path("/dev/shm").is_dir() else None)
    edge = request.param == "engine"
    place = qdrant.Place(alias="x", edge=made) if edge else qdrant.Place(alias="x", path=made)
    yield type("Engine", (), {"option": ("--qdrant-edge" if edge else "--qdrant-path", made), "place": place})
    qdrant.close(place)
    shutil.rmtree(made, ignore_errors=True)


def build(capsys, index: Path, *extra: str, corpus: Path = DEFAULT_CORPUS) -> None:
    assert main(["build", "--corpus", str(corpus), "--index", str(index), *extra], encoder=TinyEncoder()) == 0
    capsys.readouterr()


def answer(capsys, index: Path, question: str, *extra: str) -> dict:
    assert main(["ask", "--index", str(index), "--json", question, *extra], encoder=TinyEncoder()) == 0
    return without_timings(json.loads(capsys.readouterr().out))


def without_timings(x):
    if isinstance(x, dict):
        return {k: without_timings(v) for k, v in x.items() if k not in TIMINGS | IDENTITY}
    if isinstance(x, list):
        return [without_timings(v) for v in x]
    return x


ROUNDING = 2e-4  # the engine sums in float32 in its own order: a shown score may differ in its 4th decimal


def same(got, want, path: str = "") -> None:
    """``got`` is ``want``: the same passages, order, text and fields; numbers within ROUNDING."""
    if isinstance(want, dict):
        assert isinstance(got, dict) and got.keys() == want.keys(), path
        for k in want:
            same(got[k], want[k], f"{path}/{k}")
    elif isinstance(want, list):
        assert isinstance(got, list) and len(got) == len(want), path
        for i, (g, w) in enumerate(zip(got, want)):
            same(g, w, f"{path}[{i}]")
    elif isinstance(want, float) and isinstance(got, (int, float)) and not isinstance(got, bool):
        assert abs(got - want) <= ROUNDING, (path, got, want)
    else:
        assert got == want, (path, got, want)


def aliases(place: qdrant.Place) -> dict[str, str]:
    return {a.alias_name: a.collection_name for a in qdrant.client(place).get_aliases().aliases}


CONTENTS = ("sentences", "documents", "meta")  # the collections beside each build's passages


def collections(place: qdrant.Place, *, metas: bool = False) -> set[str]:
    """The builds' passage collections; each has its contents' collections beside it (and,
    once changed in place, the meta collection of the change before), and nothing else."""
    import re

    names = {c.name for c in qdrant.client(place).get_collections().collections}
    builds = {n for n in names if not re.search(r"-(sentences|documents|meta(-\d+)?)$", n)}
    rest = names - builds - {f"{b}-{c}" for b in builds for c in CONTENTS}
    assert {re.sub(r"-(meta(-\d+)?)$", "", n) for n in rest} <= builds  # changes' meta collections only
    assert len(rest) <= (2 * len(builds) if metas else 0)
    return builds


def test_a_qdrant_index_answers_every_mode_as_the_embedded_one(tmp_path, engine, capsys):
    build(capsys, tmp_path / "embedded")
    build(capsys, tmp_path / "qdrant", "--backend", "qdrant", *engine.option, "--collection", "reports")
    names = {p.name for p in (tmp_path / "qdrant").iterdir()}
    assert names <= {"manifest.json", "cache"}  # everything else is in the collections
    manifest, _ = read_manifest(tmp_path / "qdrant")
    assert manifest.backend == "qdrant" and manifest.dense_index == "qdrant"
    key = "edge" if engine.place.edge else "path"
    assert manifest.qdrant["alias"] == "reports" and manifest.qdrant[key] == str(Path(engine.option[1]).resolve())
    assert manifest.qdrant["collection"].startswith("reports-") and not manifest.qdrant["url"]
    assert aliases(qdrant.Place.of_json(manifest.qdrant)) == {"reports": manifest.qdrant["collection"]}
    for question in QUESTIONS:
        for mode in ("hybrid", "tokens", "rrf", "dense", "keyword"):
            want = answer(capsys, tmp_path / "embedded", question, "--mode", mode)
            same(answer(capsys, tmp_path / "qdrant", question, "--mode", mode), want)
        for filtered in (("--date-from", "2005", "-k", "3"), ("--org", "Amnesty", "--date-to", "2010"),
                         ("--doc", "hrw-2018-letter-to-kim-jong-un", "--mode", "dense")):
            same(answer(capsys, tmp_path / "qdrant", question, *filtered),
                 answer(capsys, tmp_path / "embedded", question, *filtered))
    assert main(["check", "--index", str(tmp_path / "qdrant")]) == 0


def points(place: qdrant.Place, name: str) -> int:
    return qdrant.client(place).count(name, exact=True).count


def test_add_and_remove_change_the_collection_in_place_and_answer_as_the_embedded_index(tmp_path, engine, capsys):
    """add and remove upsert and delete points in the collection the alias names: only the
    changed passages' points are written, the gone ones deleted once the new manifest is in
    place, and every answer is the embedded index's after the same change."""
    corpus = write_corpus(tmp_path / "corpus")
    index, embedded = tmp_path / "index", tmp_path / "embedded"
    build(capsys, index, *engine.option, corpus=corpus)
    build(capsys, embedded, corpus=corpus)
    first = read_manifest(index)[0]
    place = qdrant.Place.of_json(first.qdrant)
    name = first.qdrant["collection"]
    extra = tmp_path / "extra.txt"
    extra.write_text("The harbour of Wonsan froze in the winter of 1998.\n\nFishing boats stayed in port.\n")
    for target in (index, embedded):
        assert main(["add", str(extra), "--index", str(target)], encoder=TinyEncoder()) == 0
    capsys.readouterr()
    second = read_manifest(index)[0]
    assert second.qdrant["collection"] == name and aliases(place) == {"passages": name}
    assert collections(place, metas=True) == {name}
    assert 0 < second.qdrant["written"] == second.passages - first.passages  # the new passages only
    assert points(place, name) == second.passages and points(place, f"{name}-sentences") == second.sentences
    for question in ("harbour of Wonsan froze", *QUESTIONS):
        for mode in ("hybrid", "keyword", "tokens"):
            same(answer(capsys, index, question, "--mode", mode), answer(capsys, embedded, question, "--mode", mode))
    assert "Wonsan" in answer(capsys, index, "harbour of Wonsan froze", "--mode", "keyword")["hits"][0]["text"]
    for target in (index, embedded):
        assert main(["remove", str(extra), "--index", str(target)], encoder=TinyEncoder()) == 0
    capsys.readouterr()
    third = read_manifest(index)[0]
    assert third.qdrant["collection"] == name and third.qdrant["written"] == 0
    assert points(place, name) == third.passages == first.passages
    assert points(place, f"{name}-sentences") == third.sentences
    assert points(place, f"{name}-documents") == third.documents
    for question in ("harbour of Wonsan froze", *QUESTIONS):
        same(answer(capsys, index, question), answer(capsys, embedded, question))
    assert main(["check", "--index", str(index)]) == 0


def test_a_fresh_build_writes_a_new_collection_and_switches_the_alias(tmp_path, engine, capsys):
    index = tmp_path / "index"
    build(capsys, index, *engine.option)
    first = read_manifest(index)[0].qdrant
    place = qdrant.Place.of_json(first)
    extra = tmp_path / "extra.txt"
    extra.write_text("The harbour of Wonsan froze in the winter of 1998.\n")
    assert main(["add", str(extra), "--index", str(index)], encoder=TinyEncoder()) == 0  # (a change in place)
    capsys.readouterr()
    want = answer(capsys, index, QUESTIONS[0])
    build(capsys, index, "--fresh")
    second = read_manifest(index)[0].qdrant
    assert second["collection"] != first["collection"] and second["path"] == first["path"]
    assert aliases(place) == {"passages": second["collection"]}
    assert collections(place, metas=True) == {first["collection"], second["collection"]}  # the one before stays
    same(answer(capsys, index, QUESTIONS[0]), want)
    build(capsys, index, "--fresh")
    third = read_manifest(index)[0].qdrant
    assert collections(place) == {second["collection"], third["collection"]}  # the oldest is dropped, all of it


def test_a_change_killed_before_its_manifest_leaves_nothing_the_next_change_keeps(tmp_path, engine, capsys, monkeypatch):
    """Points written by a change that never got its manifest in place (the writer died) are
    invisible to readers and deleted by the next change."""
    from assistant.index import writer

    corpus = write_corpus(tmp_path / "corpus")
    index = tmp_path / "index"
    build(capsys, index, *engine.option, corpus=corpus)
    before = read_manifest(index)[0]
    place, name = qdrant.Place.of_json(before.qdrant), before.qdrant["collection"]
    want = answer(capsys, index, QUESTIONS[0])
    extra = tmp_path / "extra.txt"
    extra.write_text("The harbour of Wonsan froze in the winter of 1998.\n\nFishing boats stayed in port.\n")

    def killed(folder, manifest):
        raise KeyboardInterrupt("killed before the manifest")

    monkeypatch.setattr(writer, "finish", killed)
    assert main(["add", str(extra), "--index", str(index)], encoder=TinyEncoder()) != 0
    monkeypatch.undo()
    capsys.readouterr()
    assert points(place, name) > before.passages  # written, not named by any manifest
    assert read_manifest(index)[0].built_at == before.built_at
    same(answer(capsys, index, QUESTIONS[0]), want)  # readers never see them (nor BM25 weights they moved)
    assert main(["add", str(extra), "--index", str(index)], encoder=TinyEncoder()) == 0
    capsys.readouterr()
    after = read_manifest(index)[0]
    assert points(place, name) == after.passages and points(place, f"{name}-sentences") == after.sentences
    assert points(place, f"{name}-documents") == after.documents
    assert main(["check", "--index", str(index)]) == 0


def test_a_second_writer_is_refused(tmp_path, folder, capsys):
    from assistant.pipeline.build import build_index

    index = tmp_path / "index"
    build(capsys, index, "--qdrant-path", folder)
    with writer_lock(index, timeout=1.0), pytest.raises(IndexBusyError):
        build_index(DEFAULT_CORPUS, encoder=TinyEncoder(), out_dir=index, lock_timeout=0.2)


def served_by(index: Path, url: str) -> None:
    """Make the index at ``index`` read its collection through ``url`` (as if built on that server)."""
    from assistant.index import writer

    manifest, _ = read_manifest(index)
    place = replace(qdrant.Place.of_json(manifest.qdrant), url=url, path="")
    writer.finish(index, replace(manifest, qdrant=manifest.qdrant | place.to_json()))


def test_nothing_listening_is_one_line(tmp_path, folder, capsys):
    import socket

    index = tmp_path / "index"
    build(capsys, index, "--qdrant-path", folder)
    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    served_by(index, f"http://127.0.0.1:{port}")
    assert main(["ask", "--index", str(index), QUESTIONS[0]], encoder=TinyEncoder()) == 1
    out, err = capsys.readouterr()
    assert out == "" and len(err.strip().splitlines()) == 1
    assert "cannot be reached" in err and f"127.0.0.1:{port}" in err and "Traceback" not in err


def test_a_server_lost_mid_way_is_one_line_and_the_chat_stays_up(tmp_path, folder, capsys):
    from assistant.pipeline.service import Assistant
    from assistant.web.chat import Chat

    index = tmp_path / "index"
    build(capsys, index, "--qdrant-path", folder)
    want = answer(capsys, index, QUESTIONS[0])
    local = qdrant.Place.of_json(read_manifest(index)[0].qdrant)
    server = FakeQdrant(qdrant.client(local))
    served_by(index, server.url)
    try:
        assert answer(capsys, index, QUESTIONS[0]) == want  # through the server
        chat = Chat(Assistant.open(index, encoder=TinyEncoder()))
        assert chat.reply(QUESTIONS[0]).answer is not None
        server.stop()  # the server goes away while the chat is up
        lost = chat.reply(QUESTIONS[1])
        assert lost.answer is None and "cannot be reached" in lost.text and "Traceback" not in lost.text
        assert main(["ask", "--index", str(index), QUESTIONS[0]], encoder=TinyEncoder()) == 1
        err = capsys.readouterr().err
        assert len(err.strip().splitlines()) == 1 and "cannot be reached" in err
        server = FakeQdrant(qdrant.client(local), port=server.port)  # back: the same chat answers again
        assert chat.reply(QUESTIONS[0]).answer is not None
    finally:
        server.stop()


def test_a_filter_reaches_the_engine_as_payload_values_not_as_row_lists(tmp_path, engine, capsys):
    """The filter is matched on the points' payload (``doc_id``/``date`` match-any, the
    payload indexes of a server): the rows it names are the mask's, and the engine
    uses the fields (a mask that allows everything does not widen it)."""
    import numpy as np

    from assistant.index.filters import Filter
    from assistant.index.folder import load_index
    from assistant.search.searcher import Searcher

    build(capsys, tmp_path / "qdrant", *engine.option)
    index = load_index(tmp_path / "qdrant")
    columns = Searcher(index, encoder=TinyEncoder()).columns
    everything = np.ones(len(index.passages), dtype=bool)
    question = np.asarray(TinyEncoder().encode(["public executions"])[0], dtype=np.float32)
    terms = index.keyword.terms("public executions in North Korea")
    for where in (Filter(organizations=("Amnesty",)), Filter(date_from="2005"), Filter(date_to="2001-06"),
                  Filter(doc_ids=(index.passages[0].doc_id,), date_from="1990")):
        mask, match = columns.mask(where), columns.match(where)
        assert 0 < mask.sum() < len(mask)
        rows = {int(r) for r in np.flatnonzero(mask)}
        near = index.dense.nearest(question, 1000, allowed=everything, match=match)
        assert set(near.rows.tolist()) == rows  # every allowed passage, none other
        best = index.keyword.top_k(terms, 1000, allowed=everything, match=match)
        assert set(best.rows.tolist()) <= rows
        want = index.keyword.top_k(terms, 1000, allowed=mask)
        assert best.rows.tolist() == want.rows.tolist()


def test_a_collection_on_a_cluster_is_made_with_the_shards_and_copies_asked(tmp_path, folder, capsys):
    """``--qdrant-shards`` / ``--qdrant-replicas`` reach the server's create request (a
    replication factor of 2 is what survives a node's loss); they are refused without a URL."""
    from assistant.index.qdrant import Store

    server = FakeQdrant(qdrant.client(qdrant.Place(alias="x", path=folder)))
    try:
        place = qdrant.Place(alias="reports", url=server.url, collection="reports-1", shards=6, replicas=2)
        Store(place).create_raw({"dense": qdrant.multivector_params(4)})
        made = [b for verb, path, b in server.bodies if verb == "PUT" and path.startswith("/collections/reports-1")]
        assert made and made[0]["shard_number"] == 6 and made[0]["replication_factor"] == 2
        assert qdrant.Place.of_json(place.to_json()) == place  # recorded in the manifest as asked
    finally:
        server.stop()
    assert main(["build", "--index", str(tmp_path / "i"), "--qdrant-path", folder, "--qdrant-replicas", "2"],
                encoder=TinyEncoder()) != 0
    assert "--qdrant-replicas go with --qdrant-url" in capsys.readouterr().err
    assert main(["build", "--index", str(tmp_path / "j"), "--qdrant-shards", "3"], encoder=TinyEncoder()) != 0
    assert "--qdrant-shards and --qdrant-replicas go with --qdrant-url" in capsys.readouterr().err
    assert not (tmp_path / "j").exists()  # nothing built
