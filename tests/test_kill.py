"""kill -9 during build, add and remove, at several moments: the previous index stays
loadable and unchanged, and the next run succeeds, reusing the killed run's encoder
work and removing its leftovers. The writer is a real subprocess
(tests/update_runner.py, the tiny encoder slowed down) killed with SIGKILL."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from assistant.errors import IndexLoadError
from assistant.pipeline.build import build_index
from assistant.index.folder import load_index
from assistant.search.searcher import Searcher
from assistant.pipeline.build import add_documents
from conftest import TinyEncoder
from test_update import NEW_PAGE, CountingEncoder, assert_same_index, index_files, no_leftovers

RUNNER = Path(__file__).resolve().parent / "update_runner.py"


def run_until(args: list[str], marker: str, *, cwd: Path) -> None:
    """Start the runner, wait until it prints ``marker``, then SIGKILL it."""
    proc = subprocess.Popen(
        [sys.executable, str(RUNNER), *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=cwd,
        env=dict(os.environ, OMP_NUM_THREADS="1"),
    )
    try:
        for line in proc.stdout:
            if line.strip() == marker:
                os.kill(proc.pid, signal.SIGKILL)
                break
        else:
            pytest.fail(f"the runner ended before printing {marker!r}: {proc.stderr.read()[-2000:]}")
    finally:
        proc.wait(timeout=60)
    assert proc.returncode == -signal.SIGKILL


def finish(args: list[str], *, cwd: Path) -> dict:
    done = subprocess.run([sys.executable, str(RUNNER), *args], capture_output=True, text=True, cwd=cwd, timeout=300,
                          env=dict(os.environ, OMP_NUM_THREADS="1"))
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def change_corpus(corpus: Path) -> None:
    page = corpus / "news-listing.txt"
    page.write_text(page.read_text(encoding="utf-8").replace("two farmers", "three farmers"), encoding="utf-8")
    (corpus / "forced-labour.txt").write_text(NEW_PAGE, encoding="utf-8")


@pytest.fixture
def built(small_corpus: Path) -> Path:
    out = small_corpus.parent / "index"
    build_index(small_corpus, encoder=TinyEncoder(), out_dir=out)
    return out


# encoder calls of the changed build: 4 passages (1 per call), then sentences
@pytest.mark.parametrize("marker", ["encoded 1", "encoded 3", "encoded 6", "swapping"])
def test_a_killed_build_leaves_the_previous_index_and_the_next_build_resumes(built, small_corpus, tmp_path, marker):
    before = index_files(built)
    change_corpus(small_corpus)
    reference = tmp_path / "reference"  # the same index, updated without a kill: what there is to encode
    shutil.copytree(built, reference)
    needed = build_index(small_corpus, encoder=TinyEncoder(), out_dir=reference).encoded
    run_until(["--delay", "0.3", "--pause-swap", "30", "build", str(small_corpus), str(built)], marker, cwd=tmp_path)
    assert index_files(built) == before
    assert len(load_index(built, check_corpus=False).passages) == 8
    assert load_index(built).freshness.changed  # still the old index, which knows it is stale
    encoder = CountingEncoder()
    report = build_index(small_corpus, encoder=encoder, out_dir=built)
    assert report.summary() == "1 added, 1 updated, 0 removed, 2 unchanged"
    # what the killed run finished (all but the batch it was killed in) was not encoded again
    finished = int(marker.split()[1]) - 1 if marker.startswith("encoded") else needed
    assert report.encoded == encoder.texts <= needed - finished
    full = tmp_path / "full"
    build_index(small_corpus, encoder=TinyEncoder(), out_dir=full)
    assert_same_index(built, full)
    no_leftovers(built.parent)


def test_a_build_killed_between_the_renames_of_a_swap_is_put_back(built, small_corpus, tmp_path):
    before = index_files(built)
    change_corpus(small_corpus)
    run_until(["--pause-swap", "30", "--two-step", "build", str(small_corpus), str(built)], "renamed", cwd=tmp_path)
    assert not built.exists()  # killed with the index moved aside
    assert len(load_index(built, check_corpus=False).passages) == 8  # a reader puts it back
    assert index_files(built) == before
    report = build_index(small_corpus, encoder=CountingEncoder(), out_dir=built)
    assert report.encoded == 0  # the killed run had encoded everything
    no_leftovers(built.parent)


def test_a_first_build_killed_midway_leaves_no_index_and_the_next_resumes(small_corpus, tmp_path):
    out = tmp_path / "index"
    run_until(["--delay", "0.2", "build", str(small_corpus), str(out)], "encoded 5", cwd=tmp_path)
    with pytest.raises(IndexLoadError, match="no index at"):
        load_index(out)
    report = build_index(small_corpus, encoder=CountingEncoder(), out_dir=out)
    assert report.reused >= 4  # every batch but the one it was killed in
    full = tmp_path / "full"
    build_index(small_corpus, encoder=TinyEncoder(), out_dir=full)
    assert_same_index(out, full)
    no_leftovers(tmp_path)


@pytest.mark.parametrize("marker", ["encoded 2", "swapping"])
def test_a_killed_add_leaves_the_previous_index_and_the_next_add_succeeds(built, tmp_path, marker):
    before = index_files(built)
    new = tmp_path / "uploads" / "forced-labour.txt"
    new.parent.mkdir()
    new.write_text(NEW_PAGE, encoding="utf-8")
    run_until(["--delay", "0.3", "--pause-swap", "30", "add", str(built), str(new)], marker, cwd=tmp_path)
    assert index_files(built) == before
    load_index(built)  # the old index, fresh: the file was never added
    report = add_documents(built, [new], encoder=CountingEncoder())
    assert report.added == ("forced-labour",)
    if marker == "swapping":
        assert report.encoded == 0
    no_leftovers(built.parent)


def test_a_killed_remove_leaves_the_previous_index_and_the_next_remove_succeeds(built, tmp_path):
    before = index_files(built)
    run_until(["--pause-swap", "30", "remove", str(built), "news"], "swapping", cwd=tmp_path)
    assert index_files(built) == before
    assert "news" in load_index(built).documents
    assert finish(["remove", str(built), "news"], cwd=tmp_path)["summary"] == "0 added, 0 updated, 1 removed, 2 unchanged"
    assert "news" not in load_index(built).documents
    no_leftovers(built.parent)


def test_two_builds_at_once_never_interleave(built, small_corpus, tmp_path):
    """Two real processes on one index: the second waits for the first (or is told
    another build is running), and neither fails with an OSError."""
    change_corpus(small_corpus)
    args = ["--delay", "0.05", "build", str(small_corpus), str(built)]
    procs = [subprocess.Popen([sys.executable, str(RUNNER), *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True, cwd=tmp_path) for _ in range(2)]
    outs = [p.communicate(timeout=300) for p in procs]
    for p, (out, err) in zip(procs, outs):
        assert p.returncode == 0 or "another build, add or remove is running" in err, err[-2000:]
        assert "OSError" not in err and "Directory not empty" not in err
    load_index(built)
    no_leftovers(built.parent)


@pytest.mark.model
def test_a_first_build_with_the_real_model_killed_midway_resumes(real_encoder, tmp_path):
    from conftest import DEFAULT_CORPUS

    out = tmp_path / "index"
    run_until(["--real", "--batch-size", "16", "build", str(DEFAULT_CORPUS), str(out)], "encoded 3", cwd=tmp_path)
    with pytest.raises(IndexLoadError, match="no index at"):
        load_index(out)
    report = build_index(DEFAULT_CORPUS, encoder=real_encoder, out_dir=out)
    assert report.reused >= 2 * 16  # the batches finished before the kill were not encoded again
    index = load_index(out)
    assert len(index.passages) == report.passages
    hits = Searcher(index, real_encoder).search("What happens to people sent back from China?", k=3).hits
    assert hits and all(index.documents[h.passage.doc_id].text[h.passage.start : h.passage.end] == h.passage.text
                        for h in hits)
    no_leftovers(tmp_path)
