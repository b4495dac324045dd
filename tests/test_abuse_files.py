"""Hostile files and hostile uploads: bounded memory, a reason for every skipped file, never a traceback.

The hostile files are made here (tests/hostile.py): a .docx that inflates to a
gigabyte, one whose ZIP headers lie about that, a web page too large to parse, a
PDF whose pages inflate far past any real page. Reading them runs in a child
process whose address space is capped, so a reader that inflates first and
checks later fails the test (MemoryError or timeout) instead of the machine.
The upload tests drive a real ``assistant serve --allow-uploads`` with raw
multipart requests: header variants, downloads of uploaded files, a refused
upload that must leave nothing behind.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

from assistant.answer.model import cite
from assistant.ingest.corpus import passages_of, read_corpus
from hostile import big_html, docx_bomb, pdf_bomb

GB = 1 << 30
CAP = int(1.5 * GB)  # address space of the child that reads: lxml, pypdf, trafilatura and the files fit
GOOD = "A plain report. The harbour master kept a ledger of every ship that left port.\n"

_READ = """
import json, resource, sys
resource.setrlimit(resource.RLIMIT_AS, (int(sys.argv[3]), int(sys.argv[3])))
from assistant.ingest.corpus import read_corpus
c = read_corpus(sys.argv[1], max_file_bytes=int(sys.argv[2]))
print(json.dumps({"documents": [d.source for d in c.documents], "skipped": {s.path: s.reason for s in c.skipped}}))
"""


def _read_capped(corpus: Path, *, max_file_bytes: int = 50 * 2**20, timeout: float = 60) -> dict:
    """read_corpus in a child with a capped address space; its documents and skipped files."""
    done = subprocess.run([sys.executable, "-c", _READ, str(corpus), str(max_file_bytes), str(CAP)],
                          capture_output=True, text=True, timeout=timeout, cwd=corpus.parent)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "Traceback" not in done.stderr
    return json.loads(done.stdout)


def _corpus(tmp_path: Path) -> Path:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "good.txt").write_text(GOOD, encoding="utf-8")
    return corpus


# ------------------------------------------------------------------ hostile archives and pages


def test_docx_that_inflates_to_a_gigabyte_is_skipped_before_it_is_inflated(tmp_path):
    corpus = _corpus(tmp_path)
    bomb = docx_bomb(corpus / "bomb.docx", inflated=1 * GB)
    assert bomb.stat().st_size < 5_000_000
    got = _read_capped(corpus)
    assert got["documents"] == ["corpus/good.txt"]
    assert "compressed too far" in got["skipped"][str(bomb)]


def test_docx_whose_zip_headers_lie_about_its_size_is_skipped(tmp_path):
    corpus = _corpus(tmp_path)
    liar = docx_bomb(corpus / "liar.docx", inflated=1 * GB, lie=True)
    got = _read_capped(corpus)
    assert got["documents"] == ["corpus/good.txt"]
    # found by reading through a bounded stream (zipfile alone inflates up to 2 GB in one call first)
    assert "damaged" in got["skipped"][str(liar)] and "Bad CRC" in got["skipped"][str(liar)]


def test_web_page_too_large_to_parse_is_skipped_with_its_reason(tmp_path):
    corpus = _corpus(tmp_path)
    page = big_html(corpus / "page.html", size=2_500_000)
    # with files up to 5 MB, a page is parsed up to 1 MB of HTML
    got = _read_capped(corpus, max_file_bytes=5 * 2**20)
    assert "web page too large to parse" in got["skipped"][str(page)]


def test_pdf_whose_pages_inflate_a_bomb_is_skipped_in_seconds(tmp_path):
    corpus = _corpus(tmp_path)
    bomb = pdf_bomb(corpus / "bomb.pdf", pages=30, stream=40_000_000)
    assert bomb.stat().st_size < 5_000_000
    got = _read_capped(corpus, timeout=30)
    assert got["documents"] == ["corpus/good.txt"]
    assert "compressed too far" in got["skipped"][str(bomb)]


def test_pdf_under_the_stream_limit_but_far_past_real_pages_is_skipped(tmp_path):
    corpus = _corpus(tmp_path)
    bomb = pdf_bomb(corpus / "many.pdf", pages=12, stream=8_000_000)  # each stream under every pypdf limit
    got = _read_capped(corpus, timeout=30)
    assert "compressed too far" in got["skipped"][str(bomb)]


# ------------------------------------------------------------------ smaller failures


def test_one_line_file_without_sentence_ends_is_skipped_not_indexed_as_nothing(tmp_path):
    corpus = _corpus(tmp_path)
    (corpus / "line.txt").write_bytes(b"x" * 3_000_000)
    got = read_corpus(corpus)
    assert [d.source for d in got.documents] == ["corpus/good.txt"]
    (skipped,) = got.skipped
    assert skipped.path.endswith("line.txt") and "no line break or sentence end" in skipped.reason


def test_one_line_file_with_sentences_is_indexed(tmp_path):
    corpus = _corpus(tmp_path)
    (corpus / "line.txt").write_text("The ship left port at dawn. " * 20_000, encoding="utf-8")
    doc = next(d for d in read_corpus(corpus).documents if d.source.endswith("line.txt"))
    passages = passages_of(doc)
    assert len(passages) > 100 and all(doc.text[p.start:p.end] == p.text for p in passages)


def test_mostly_utf8_file_with_a_few_bad_bytes_is_read_as_utf8(tmp_path):
    corpus = _corpus(tmp_path)
    text = "Le café était très bon, déjà vu à Noël. " * 30
    (corpus / "cafe.txt").write_bytes(text.encode() + b"\xff\xfe stray bytes \xe9.\n")
    doc = next(d for d in read_corpus(corpus).documents if d.source.endswith("cafe.txt"))
    assert doc.text.startswith("Le café était très bon") and "Ă" not in doc.text
    assert "\ufffd" in doc.text  # the bad bytes show as such; quotes are cut from this text
    for p in passages_of(doc):
        assert doc.text[p.start:p.end] == p.text


def test_short_latin1_file_is_read_as_western_european(tmp_path):
    corpus = _corpus(tmp_path)
    (corpus / "menu.txt").write_bytes("Une crème brûlée, s'il vous pla".encode("latin-1"))
    doc = next(d for d in read_corpus(corpus).documents if d.source.endswith("menu.txt"))
    assert doc.text == "Une crème brûlée, s'il vous pla"


def test_polish_windows_1250_file_is_still_read_as_polish(tmp_path):
    corpus = _corpus(tmp_path)
    (corpus / "pl.txt").write_bytes("Zażółć gęślą jaźń, powiedział.\n".encode("cp1250"))
    doc = next(d for d in read_corpus(corpus).documents if d.source.endswith("pl.txt"))
    assert doc.text == "Zażółć gęślą jaźń, powiedział.\n"


def test_citation_of_a_file_whose_name_holds_a_newline_stays_one_line(tmp_path):
    corpus = _corpus(tmp_path)
    (corpus / "two\nlines.txt").write_text(GOOD, encoding="utf-8")
    doc = next(d for d in read_corpus(corpus).documents if "lines" in d.source)
    line = cite(passages_of(doc)[0], doc).text()
    assert "\n" not in line and "two\\nlines.txt" in line


def test_fifo_in_the_corpus_is_skipped_with_a_reason_without_blocking(tmp_path):
    corpus = _corpus(tmp_path)
    os.mkfifo(corpus / "pipe.txt")
    got = _read_capped(corpus, timeout=20)  # opening a FIFO to read would block for ever
    assert got["documents"] == ["corpus/good.txt"]
    assert "named pipe" in got["skipped"][str(corpus / "pipe.txt")]
    code = ("import sys; from pathlib import Path; from assistant.ingest.corpus import read_document\n"
            "try:\n    read_document(Path(sys.argv[1]), root=Path(sys.argv[1]).parent, metadata={})\n"
            "except Exception as e:\n    print(type(e).__name__, e)")
    done = subprocess.run([sys.executable, "-c", code, str(corpus / "pipe.txt")], capture_output=True, text=True,
                          timeout=20)
    assert done.stdout.startswith("SkipFile") and "named pipe" in done.stdout


# ------------------------------------------------------------------ uploads: staged, never left behind


def test_upload_that_cannot_be_read_never_enters_the_corpus(tmp_path, tiny_encoder):
    from assistant.pipeline.build import build_index
    from assistant.index.folder import load_index
    from assistant.web.uploads import LiveCollection, UploadError, UploadSettings

    corpus = _corpus(tmp_path)
    index = tmp_path / "index"
    build_index(corpus, encoder=tiny_encoder, out_dir=index)
    received = tmp_path / "received"
    received.mkdir()
    bomb = docx_bomb(received / "upload-1", inflated=12_000_000)  # 12 MB of XML (the limit is 10 MB) in 35 kB
    good = received / "upload-2"
    good.write_text("Lighthouse keepers reported that the beacon fuel ran out in January.\n", encoding="utf-8")
    settings = UploadSettings(folder=corpus / "uploads", max_bytes=50_000)
    live = LiveCollection(index, settings, lambda: tiny_encoder, lambda: None)
    with pytest.raises(UploadError, match="compressed too far"):
        live.add([(bomb, "report.docx")])
    assert not (corpus / "uploads").exists() or not any((corpus / "uploads").rglob("*"))
    load_index(index)  # the corpus is as it was: the index is not refused as changed
    added, problems = live.add([(bomb, "report.docx"), (good, "beacon.txt")])
    assert len(added) == 1 and any("compressed too far" in p for p in problems)
    assert sorted(p.name for p in (corpus / "uploads").rglob("*")) == ["beacon.txt"]
    assert len(load_index(index).documents) == 2


# ------------------------------------------------------------------ uploads against a running server


@pytest.fixture(scope="module")
def upload_server(tmp_path_factory, real_encoder):
    from assistant.pipeline.build import build_index
    from conftest import write_markup_corpus
    from test_web import _serving

    root = tmp_path_factory.mktemp("abuse-uploads")
    corpus = write_markup_corpus(root / "corpus")
    index = root / "index"
    build_index(corpus, encoder=real_encoder, out_dir=index)
    received = root / "gradio-received"  # Gradio's upload folder for this server alone
    before = os.environ.get("GRADIO_TEMP_DIR")
    os.environ["GRADIO_TEMP_DIR"] = str(received)
    try:
        with _serving(root, index, "--allow-uploads", "--max-upload-mb", "0.05") as running:
            if before is None:
                del os.environ["GRADIO_TEMP_DIR"]
            else:
                os.environ["GRADIO_TEMP_DIR"] = before
            yield running
    finally:
        if before is None:
            os.environ.pop("GRADIO_TEMP_DIR", None)
        else:
            os.environ["GRADIO_TEMP_DIR"] = before


def _received(server) -> list[Path]:
    folder = Path(server.index).parent / "gradio-received"
    return [p for p in folder.rglob("*") if p.is_file()] if folder.exists() else []


def _raw_upload(url: str, disposition: str, data: bytes = b"plain text about ships\n") -> tuple[int, str]:
    from test_web import _post

    boundary = "----abuse-boundary"
    body = (f"--{boundary}\r\n{disposition}\r\nContent-Type: application/octet-stream\r\n\r\n").encode()
    body += data + f"\r\n--{boundary}--\r\n".encode()
    return _post(url + "gradio_api/upload", body, f"multipart/form-data; boundary={boundary}")


VARIANTS = [
    'Content-Disposition: form-data; name="files"; filename = "evil.sh"',
    'Content-Disposition: form-data; name="files"; filename=evil.sh',
    'Content-Disposition: form-data; name="files"; FILENAME="evil.sh"',
    'content-disposition: form-data; name="files"; Filename="evil.sh"',
    'Content-Disposition: form-data; name="files"; filename*=UTF-8\'\'evil.sh',
    'Content-Disposition: form-data; name="files"; filename="notes.txt"; filename*=UTF-8\'\'evil.sh',
    'Content-Disposition: form-data; name="files"; filename*0="ev"; filename*1="il.sh"',
    'Content-Disposition: form-data; name="files"; filename="../evil.txt"',
    'Content-Disposition: form-data; name="files"; filename=".hidden.txt"',
    'Content-Disposition: form-data; name="files"; filename*=UTF-8\'\'..%2Fevil.txt',
]


@pytest.mark.parametrize("disposition", VARIANTS)
def test_guard_refuses_header_variants_whichever_way_the_body_is_cut(disposition):
    from assistant.web.guard import Limits
    from test_webguard import _app

    boundary = "XyZ"
    body = (f"--{boundary}\r\n{disposition}\r\n\r\n".encode() + b"data " * 50
            + f"\r\n--{boundary}--\r\n".encode())
    client = _app(Limits(uploads=True, max_upload=100_000, upload_suffixes=(".txt", ".pdf")))
    for size in (len(body), 7, 64):
        chunks = (body[i:i + size] for i in range(0, len(body), size))
        r = client.post("/gradio_api/upload", content=chunks,
                        headers={"content-type": f"multipart/form-data; boundary={boundary}"})
        assert r.status_code == 415, (size, r.status_code, r.text)


@pytest.mark.model
@pytest.mark.parametrize("disposition", VARIANTS)
def test_upload_header_variants_cannot_pass_the_type_and_name_check(upload_server, disposition):
    status, text = _raw_upload(upload_server.url, disposition)
    assert status == 415, (status, text)
    assert "this server accepts" in text or "more than once" in text
    # Gradio never saw the part: nothing of it was stored, not even a partial temporary file
    assert not [p for p in _received(upload_server) if "evil" in p.name or "hidden" in p.name
                or p.name.startswith("tmp")]


@pytest.mark.model
def test_uploaded_files_cannot_be_downloaded(upload_server):
    status, text = _raw_upload(upload_server.url, 'Content-Disposition: form-data; name="files"; filename="notes.txt"')
    assert status == 200, text
    (stored,) = json.loads(text)
    assert Path(stored).read_bytes() == b"plain text about ships\n"  # Gradio holds it...
    for route in (f"gradio_api/file={stored}", f"gradio_api/file/{stored}", f"file={stored}",
                  f"gradio_api//file={urllib.parse.quote(stored)}"):
        with pytest.raises(urllib.error.HTTPError) as refused:  # ...and never serves it
            urllib.request.urlopen(upload_server.url + route, timeout=10)
        assert refused.value.code in (403, 404), route


@pytest.mark.model
def test_refused_upload_leaves_nothing_behind_and_the_index_still_loads(upload_server):
    from gradio_client import Client

    from assistant.index.folder import load_index

    root = Path(upload_server.index).parent
    uploads = root / "corpus" / "uploads"
    bomb = docx_bomb(root / "small-bomb.docx", inflated=12_000_000)  # 12 MB of XML (the limit is 10 MB) in 35 kB
    assert bomb.stat().st_size < 50_000
    status, text = _raw_upload(upload_server.url, 'Content-Disposition: form-data; name="files"; '
                               'filename="report.docx"', bomb.read_bytes())
    assert status == 200, text
    (received,) = json.loads(text)
    client = Client(upload_server.url, verbose=False)
    payload = {"path": received, "orig_name": "report.docx", "meta": {"_type": "gradio.FileData"}}
    message = client.predict([payload], api_name="/add_documents")[0]
    assert "Nothing was added" in message and "compressed too far" in message, message
    assert not Path(received).exists()  # gone from Gradio's upload folder
    assert Path(received).parent.parent == Path(upload_server.index).parent / "gradio-received"
    assert not any(uploads.rglob("*")) if uploads.exists() else True  # and from the app's, staging included
    load_index(upload_server.index)  # the corpus is unchanged: the index loads and checks clean
    assert "Traceback" not in upload_server.log.read_text()
