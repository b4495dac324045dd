"""Abuse of the index folder and its inputs (issue 26): linked index folders, two paths
to one index written at once, a damaged encoder cache, an endless batch file, edited
manifests, misleading messages, malformed requests to the web app's API routes.

Each case ends in one index (never two halves), one line on stderr and exit code 1
where it is the user's mistake, and never a traceback.
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import numpy as np
import pytest

from assistant.cli.main import main
from assistant.pipeline.build import build_index
from assistant.index.folder import load_index
from conftest import TESTS_DIR, TinyEncoder, write_corpus, write_markup_corpus

EXTRA = """Forced labour

Prisoners are made to work in mines and farms from dawn until late at night, former detainees say.
"""
OTHER = """Good news

The camp was closed last spring, and its prisoners were released, witnesses say.
"""


def cli(capsys, *argv: str, encoder=None) -> tuple[int, str, str]:
    code = main(list(argv), encoder=encoder or TinyEncoder())
    out, err = capsys.readouterr()
    assert "Traceback" not in err
    return code, out, err


def index_files(folder: Path) -> dict[str, bytes]:
    """The index's own files (the manifest records times; the cache is compared by what it gives)."""
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*"))
            if p.is_file() and p.name != "manifest.json" and p.relative_to(folder).parts[0] != "cache"}


def strays(parent: Path) -> list[str]:
    """What writers may leave beside an index: temporary folders, a set-aside index, lock files."""
    return sorted(p.name for p in parent.iterdir() if ".tmp-" in p.name or p.name.endswith((".old", ".lock")))


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    return write_corpus(tmp_path / "corpus")


@pytest.fixture
def real_index(corpus: Path) -> Path:
    out = corpus.parent / "real-index"
    build_index(corpus, encoder=TinyEncoder(), out_dir=out)
    return out


def _file(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


# --- a linked index folder: one index per real folder ------------------------------------


def test_add_through_a_link_updates_the_real_folder_and_keeps_the_link(real_index, tmp_path, capsys):
    link = tmp_path / "idx"
    link.symlink_to(real_index.name)
    extra = _file(tmp_path, "extra.txt", EXTRA)
    code, out, err = cli(capsys, "add", "--index", str(link), str(extra))
    assert code == 0, err
    assert link.is_symlink() and os.readlink(link) == real_index.name
    assert "extra" in load_index(real_index).documents
    assert strays(tmp_path) == []


def test_build_and_remove_through_a_link_keep_the_link(real_index, corpus, tmp_path, capsys):
    link = tmp_path / "idx"
    link.symlink_to(real_index)
    (corpus / "open-letter.txt").write_text(EXTRA, encoding="utf-8")
    assert cli(capsys, "build", "--corpus", str(corpus), "--index", str(link))[0] == 0
    assert cli(capsys, "remove", "--index", str(link), "news")[0] == 0
    assert link.is_symlink()
    assert set(load_index(real_index).documents) == {"pr-detention", "open-letter"}
    assert strays(tmp_path) == []


def test_two_paths_to_one_index_written_at_once_share_one_lock(real_index, tmp_path):
    """Two real processes add a file each, one through a link and one by the real path,
    at the same time: both files end up in the one index."""
    link = tmp_path / "idx"
    link.symlink_to(real_index.name)
    a, b = _file(tmp_path, "alpha.txt", EXTRA), _file(tmp_path, "beta.txt", OTHER)
    runner = [sys.executable, str(TESTS_DIR / "update_runner.py"), "--delay", "0.3"]
    procs = [subprocess.Popen([*runner, "add", str(index), str(f)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True) for index, f in ((link, a), (real_index, b))]
    results = [p.communicate(timeout=120) for p in procs]
    for p, (out, err) in zip(procs, results):
        assert p.returncode == 0, err
    assert link.is_symlink()
    assert {"alpha", "beta"} <= set(load_index(real_index).documents)
    assert strays(tmp_path) == []


def test_an_index_path_that_is_a_link_loop_is_named(corpus, tmp_path, capsys):
    loop = tmp_path / "loop"
    loop.symlink_to(loop.name)
    for argv in (["build", "--corpus", str(corpus)], ["add", str(corpus / "news-listing.txt")], ["ask", "camps"],
                 ["check"]):
        code, out, err = cli(capsys, *argv, "--index", str(loop))
        assert code == 1 and err.count("\n") == 1, argv
        assert f"the index path {loop} is a link loop" in err, argv


def test_adding_a_link_loop_says_so(real_index, tmp_path, capsys):
    loop = tmp_path / "loop.txt"
    loop.symlink_to(loop.name)
    code, out, err = cli(capsys, "add", "--index", str(real_index), str(loop))
    assert code == 1
    assert f"{loop}: a link loop" in err and "no such file" not in err


def test_the_same_file_given_twice_is_added_once(real_index, tmp_path, capsys):
    good = _file(tmp_path, "good.txt", OTHER)
    code, out, err = cli(capsys, "add", "--index", str(real_index), str(good), str(good), str(tmp_path / "." / "good.txt"))
    assert code == 0, err
    ids = set(load_index(real_index).documents)
    assert "good" in ids and not any(i.startswith("good-") for i in ids)


# --- a damaged encoder cache heals --------------------------------------------------------


def _largest_shard(index: Path) -> Path:
    return max((index / "cache").glob("*.npz"), key=lambda p: p.stat().st_size)


def _flip_a_byte(index: Path) -> None:
    shard = _largest_shard(index)
    info = zipfile.ZipFile(shard).getinfo("vec.npy")
    data = bytearray(shard.read_bytes())
    data[info.header_offset + 30 + len(info.filename) + len(info.extra) + info.file_size // 2] ^= 0xFF
    shard.write_bytes(bytes(data))


def _truncate(index: Path) -> None:
    shard = _largest_shard(index)
    shard.write_bytes(shard.read_bytes()[: shard.stat().st_size // 2])


def _foreign_shapes(index: Path) -> None:
    """Keys a build will look for, with vectors of the wrong shape and type."""
    shard = _largest_shard(index)
    with np.load(shard) as z:
        keys = z["keys"]
    with shard.open("wb") as f:
        np.savez(f, keys=keys, vec=np.zeros((len(keys), 7), dtype=np.float64))


def _another_models(index: Path) -> None:
    """A whole shard of another model (of the same dimension) in place of one of this index's."""
    class Other(TinyEncoder):
        name = "tiny-hash-other"

    other = index.parent / "other-index"
    build_index(write_corpus(index.parent / "other-corpus"), encoder=Other(), out_dir=other)
    shard = _largest_shard(index)
    shard.write_bytes(_largest_shard(other).read_bytes())


@pytest.mark.parametrize("damage", [_flip_a_byte, _truncate, _foreign_shapes, _another_models],
                         ids=["flipped byte", "truncated", "wrong shapes", "another model's"])
@pytest.mark.parametrize("command", ["build", "add"])
def test_a_damaged_cache_is_encoded_again_with_one_note(real_index, corpus, tmp_path, capsys, damage, command):
    extra = _file(tmp_path, "extra.txt", EXTRA)
    clean = tmp_path / "clean"
    build_index(corpus, encoder=TinyEncoder(), out_dir=clean)
    if command == "add":
        assert main(["add", "--index", str(clean), str(extra)], encoder=TinyEncoder()) == 0
    capsys.readouterr()
    damage(real_index)
    argv = (["build", "--corpus", str(corpus), "--index", str(real_index)] if command == "build"
            else ["add", "--index", str(real_index), str(extra)])
    code, out, err = cli(capsys, *argv)
    assert code == 0, err
    notes = [line for line in err.splitlines() if "encoder cache" in line]
    assert len(notes) == 1 and notes[0].startswith("note: ") and "encoded again" in notes[0], err
    if damage is _another_models:
        assert "written by another model (tiny-hash-other), not tiny-hash-64" in notes[0]
    assert index_files(real_index) == index_files(clean)
    # the cache is whole again: the next build reads it all and says nothing
    code, out, err = cli(capsys, "build", "--corpus", str(corpus), "--index", str(real_index))
    assert code == 0 and "encoder cache" not in err and "encoded 0 texts" in out


# --- ask --batch reads bounded lines ---------------------------------------------------------


def test_an_endless_batch_line_ends_in_one_error_in_bounded_memory(real_index):
    """`ask --batch /dev/zero` in a real process limited to 1 GB of address space: it
    stops with one line on stderr, and its peak memory stays small."""
    script = ("import resource, sys\nfrom assistant.cli.main import main\n"
              f"code = main(['ask', '--index', {str(real_index)!r}, '--batch', '/dev/zero'])\n"
              "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)\nsys.exit(code)\n")

    def limit() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (2**30, 2**30))

    p = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, preexec_fn=limit, timeout=120)
    assert p.returncode == 1, p.stderr
    assert p.stderr.count("\n") == 1 and "Traceback" not in p.stderr
    assert p.stderr.startswith("error: /dev/zero: line 1 runs on for more than 64 MB without a line end")
    peak_mb = int(p.stdout.split()[-1]) / 1024
    # the model's question encoder may be open by then (about 0.4 GB); reading the endless
    # line itself adds almost nothing (it grew by gigabytes before the cap)
    assert peak_mb < 700, f"peak RSS {peak_mb:.0f} MB"


def test_an_over_long_batch_line_is_named_and_the_rest_answered(real_index, tmp_path, capsys):
    batch = tmp_path / "questions.jsonl"
    long_line = json.dumps({"id": "long", "query": "camps " * 400_000}).encode()
    batch.write_bytes(b'{"id": "a", "query": "held without trial"}\n' + long_line + b"\n"
                      + b'{"id": "b", "query": "death penalty"}\n')
    code, out, err = cli(capsys, "ask", "--index", str(real_index), "--batch", str(batch), "-k", "1")
    assert code == 1
    assert [json.loads(line)["id"] for line in out.splitlines()] == ["a", "b"]
    lines = err.splitlines()
    assert lines[0] == (f"error: {batch}: line 2 skipped: longer than 1,048,576 bytes; a line holds one question "
                        "of at most 2,000 characters")
    assert lines[1] == "error: 1 of 3 lines could not be answered (named above); the other 2 were answered"


# --- check covers every manifest field -------------------------------------------------------


@pytest.mark.parametrize("field, value", [("model", "another-model"), ("corpus_dir", "/elsewhere"),
                                          ("index_type", "hnsw"), ("ranking", None), ("built_at", "yesterday")])
def test_check_refuses_an_edited_manifest_field(real_index, capsys, field, value):
    assert cli(capsys, "check", "--index", str(real_index))[0] == 0
    path = real_index / "manifest.json"
    path.write_text(json.dumps(json.loads(path.read_text()) | {field: value}, indent=2))
    code, out, err = cli(capsys, "check", "--index", str(real_index))
    assert code == 1 and out == "" and err.count("\n") == 1
    assert "manifest.json was changed after the build" in err


# --- messages that said the wrong thing -------------------------------------------------------


def test_an_index_folder_that_cannot_be_written_is_said_at_once(corpus, capsys):
    t0 = time.monotonic()
    code, out, err = cli(capsys, "build", "--corpus", str(corpus), "--index", "/proc/x")
    assert code == 1 and time.monotonic() - t0 < 5
    assert err == "error: cannot write the index at /proc/x: its folder /proc cannot be written (No such file or directory)\n"


def test_a_corpus_that_is_a_file_is_called_a_file(corpus, tmp_path, capsys):
    code, out, err = cli(capsys, "build", "--corpus", str(corpus / "metadata.json"), "--index", str(tmp_path / "i"))
    assert code == 1
    assert err == (f"error: the corpus {corpus / 'metadata.json'} is a file, not a folder; give the folder that holds "
                   f"the documents (e.g. --corpus {corpus})\n")


def _foreign(folder: Path, *, other_files: bool) -> Path:
    folder.mkdir()
    (folder / "manifest.json").write_text('{"name": "my-app", "version": 3}')
    if other_files:
        (folder / "data.csv").write_text("a,b\n")
    return folder


@pytest.mark.parametrize("other_files", [True, False], ids=["with other files", "manifest alone"])
def test_another_programs_manifest_is_not_an_index(corpus, tmp_path, capsys, other_files):
    folder = _foreign(tmp_path / "app", other_files=other_files)
    before = sorted(p.name for p in folder.iterdir())
    code, out, err = cli(capsys, "build", "--corpus", str(corpus), "--index", str(folder))
    assert code == 1
    assert err == (f"error: refusing to build into {folder}: it is not an index of this assistant (its manifest.json "
                   "is another program's); choose an empty or new folder\n")
    code, out, err = cli(capsys, "ask", "--index", str(folder), "prison")
    assert code == 1 and "is not an index of this assistant" in err and "damaged" not in err
    assert f"--index {folder}-index" in err
    assert sorted(p.name for p in folder.iterdir()) == before
    assert (folder / "manifest.json").read_text() == '{"name": "my-app", "version": 3}'


def test_asking_the_root_folder_suggests_a_usable_folder(capsys):
    code, out, err = cli(capsys, "ask", "--index", "/", "prison")
    assert code == 1
    assert "/-index" not in err and "--index index " in err


def test_writers_leave_no_lock_file_whether_they_succeed_or_fail(corpus, tmp_path, capsys):
    empty = tmp_path / "empty"
    empty.mkdir()
    assert cli(capsys, "build", "--corpus", str(empty), "--index", str(tmp_path / "failed"))[0] == 1
    assert cli(capsys, "build", "--corpus", str(corpus), "--index", str(tmp_path / "ok"))[0] == 0
    assert cli(capsys, "remove", "--index", str(tmp_path / "ok"), "no-such-doc")[0] == 1
    assert strays(tmp_path) == []


# --- malformed requests to every API route of the web app ----------------------------------


@pytest.fixture(scope="module")
def upload_server(tmp_path_factory, real_encoder):
    from test_web import _serving

    root = tmp_path_factory.mktemp("abuse-web")
    corpus = write_markup_corpus(root / "corpus")
    index = root / "index"
    build_index(corpus, encoder=real_encoder, out_dir=index)
    with _serving(root, index, "--allow-uploads") as running:
        yield running


def _call(url: str, route: str, data: list) -> tuple[str, object]:
    """POST a call to a Gradio API route as plain HTTP; returns (event, data) of its result."""
    import urllib.request

    req = urllib.request.Request(f"{url}gradio_api/call/{route}", data=json.dumps({"data": data}).encode(),
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=30) as r:
        event_id = json.loads(r.read())["event_id"]
    with urllib.request.urlopen(f"{url}gradio_api/call/{route}/{event_id}", timeout=120) as r:
        text = r.read().decode()
    event = next(line.split(": ", 1)[1] for line in text.splitlines() if line.startswith("event: "))
    payload = next(line.split(": ", 1)[1] for line in text.splitlines() if line.startswith("data: "))
    return event, json.loads(payload)


def _run(url: str, route: str, data: list) -> str:
    """POST to a route's one-step ``run`` form; returns the error it answers."""
    import urllib.error
    import urllib.request

    req = urllib.request.Request(f"{url}gradio_api/run/{route}", data=json.dumps({"data": data}).encode(),
                                 headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=60) as r:
            body = r.read()
    except urllib.error.HTTPError as e:
        body = e.read()
    return json.loads(body)["error"]


FILE = {"path": "/etc/passwd", "meta": {"_type": "gradio.FileData"}}


@pytest.mark.model
def test_malformed_requests_to_every_api_route_get_a_clear_error(upload_server):
    import urllib.request

    with urllib.request.urlopen(f"{upload_server.url}gradio_api/info", timeout=30) as r:
        routes = {name.lstrip("/"): len(about["parameters"]) for name, about in json.loads(r.read())["named_endpoints"].items()}
    assert {"chat", "search", "add_documents", "remove_documents"} <= set(routes)
    for route, n in sorted(routes.items()):
        if n == 0:
            continue
        # too few values, and a file (never uploaded) as the first of all of them
        for data in ([], [FILE] + ["x"] * (n - 1)):
            event, payload = _call(upload_server.url, route, data)
            assert event == "error", (route, data, payload)
            assert isinstance(payload, dict) and isinstance(payload.get("error"), str) and payload["error"], (route, data)
    event, payload = _call(upload_server.url, "search", [FILE, 5, "hybrid"])
    assert payload["error"] == "/search: question must be text or a number, not a file"
    event, payload = _call(upload_server.url, "search", ["camps"])
    assert payload["error"] == "/search takes 3 values (question, k, mode); the request sent 1 (question)"
    assert _run(upload_server.url, "search", []) == "/search takes 3 values (question, k, mode); the request sent 0"
    time.sleep(0.5)
    log = upload_server.log.read_text()
    assert "Traceback" not in log and "refused a malformed request: /search" in log
    event, payload = _call(upload_server.url, "search", ["prison camps", 2, "hybrid"])  # and it still answers
    assert event == "complete" and len(payload[0]["hits"]) == 2
