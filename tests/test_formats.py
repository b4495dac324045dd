"""PDF, HTML and Word files, encodings and bad input: each format's text reaches passages
with correct offsets, pages and metadata; every bad file is one named line and the rest
is read. Every fixture is written here (reportlab, python-docx, byte strings)."""

from __future__ import annotations

import contextlib
import datetime
import json
import os
import re
import shutil
from pathlib import Path

import pytest

from assistant.answer.model import cite
from assistant.answer.json_format import citation_json
from assistant.ingest.corpus import discover, files_fingerprint, passages_of, read_corpus, read_document
from assistant.errors import CorpusError, SkipFile
from docgen import make_docx, make_html, make_pdf, make_scanned_pdf, make_two_column_pdf

WORDS = (
    "detention tribunal famine refugees border villages prisoners soldiers harvest testimony witnesses "
    "commission interrogation sentences labour rations hospital families factories markets authorities"
).split()


def paragraph(n: int, words: int = 60) -> str:
    """A sentence-like paragraph whose words are ``w<n>x<i>`` markers among ordinary words,
    with long words that the PDF maker hyphenates at line ends."""
    out = []
    for i in range(words):
        out.append(f"m{n}x{i}" if i % 6 == 0 else WORDS[(n * 7 + i) % len(WORDS)])
        if i % 9 == 4:
            out.append("internationally")
    return " ".join(out).capitalize() + f" m{n}x{words}."  # a marker at each end


def sections(count: int = 4, paras: int = 5) -> list[tuple[str, list[str]]]:
    return [(f"Part {s + 1} findings", [paragraph(s * 100 + p) for p in range(paras)]) for s in range(count)]


def words(text: str) -> list[str]:
    return re.findall(r"[\w’']+", text)


def docs_by_name(corpus) -> dict:
    return {Path(d.path).name: d for d in corpus.documents}


def check_offsets(doc) -> list:
    ps = passages_of(doc)
    assert ps
    for p in ps:
        assert p.text == doc.text[p.start : p.end]
    return ps


# --- PDF ---------------------------------------------------------------------------


@pytest.fixture
def pdf_corpus(tmp_path):
    root = tmp_path / "reports"
    root.mkdir()
    make_pdf(
        root / "annual.pdf", sections(), title="Annual report on detention", author="Rights Watchers",
        date=datetime.date(2019, 5, 2), header="Annual report 2019 — Rights Watchers",
    )
    return root


def test_a_pdf_is_read_with_its_metadata_and_every_word_once(pdf_corpus):
    (doc,) = read_corpus(pdf_corpus).documents
    assert (doc.title, doc.organization, doc.date) == ("Annual report on detention", "Rights Watchers", "2019-05-02")
    assert doc.source == "reports/annual.pdf" and Path(doc.path) == (pdf_corpus / "annual.pdf").resolve()
    source_words = [w for h, ps in sections() for w in words(h + " " + " ".join(ps))]
    # hyphenated line ends are re-joined: every word of the source comes out whole, in order
    assert words(doc.text) == source_words
    assert "internationally" in doc.text and not re.search(r"\w-\n", doc.text)


def test_running_headers_and_page_numbers_are_not_passages(pdf_corpus):
    import pypdf

    raw_pages = [p.extract_text() for p in pypdf.PdfReader(pdf_corpus / "annual.pdf").pages]
    assert len(raw_pages) >= 3 and all("Annual report 2019" in t and "Page" in t for t in raw_pages)
    (doc,) = read_corpus(pdf_corpus).documents
    assert "Annual report 2019" not in doc.text and not re.search(r"Page \d+ of \d+", doc.text)
    assert all("Rights Watchers" not in p.text for p in check_offsets(doc))


def test_a_chapters_running_head_is_dropped_a_line_repeated_here_and_there_is_not():
    from assistant.ingest.formats.pdf import _drop_running_lines

    def page(n: int, top: str) -> list[str]:
        own = "abcdefghij"[n]  # digits would make the pages' lines alike ("page #")
        return [top, ""] + [f"Line {word} of page {own} says something of its own." for word in
                            ("one", "two", "three", "four", "five", "six", "seven")]

    # chapter 2's head on pages 3-6 only (4 of 10 pages: under the 60% of a document's head),
    # spaced differently as PDF text comes; a sentence at the top of pages 0, 7 and 9 (3 pages
    # far apart) and a heading at the top of two pages are not running heads
    tops = {0: "The same sentence opens this page.", 1: "Results", 2: "Results", 7: "The same sentence opens this page.",
            9: "The same sentence opens this page."}
    pages = [page(n, f"Chapter 2:  R Basics{' ' * (n % 3 + 1)}{n + 1}" if 3 <= n <= 6 else tops.get(n, f"Heading {n}"))
             for n in range(10)]
    kept = _drop_running_lines(pages)
    assert all(not any("R Basics" in x for x in lines) for lines in kept)
    assert [lines[0] for n, lines in enumerate(kept) if n in tops] == [tops[n] for n in sorted(tops)]
    assert all(f"Line four of page {'abcdefghij'[n]} says something of its own." in lines for n, lines in enumerate(kept))


def test_pdf_passages_carry_the_page_they_are_on(pdf_corpus):
    import pypdf

    page_of: dict[str, int] = {}
    for n, page in enumerate(pypdf.PdfReader(pdf_corpus / "annual.pdf").pages, 1):
        for marker in re.findall(r"m\d+x\d+", page.extract_text().replace("-\n", "")):
            page_of[marker] = n
    (doc,) = read_corpus(pdf_corpus).documents
    assert len(doc.pages) == max(page_of.values())
    spanning = 0
    for p in check_offsets(doc):
        markers = re.findall(r"m\d+x\d+", p.text)
        if not markers:
            continue
        assert p.page == page_of[markers[0]] and p.last_page == page_of[markers[-1]], p.passage_id
        spanning += p.last_page > p.page
        c = cite(p, doc)
        label = f"pp. {p.page}–{p.last_page}" if p.last_page > p.page else f"p. {p.page}"
        assert label in c.text()
        js = citation_json(c)
        assert js["page"] == p.page and js["pages"] == ([p.page, p.last_page] if p.last_page > p.page else None)
    assert spanning >= 1  # a paragraph that runs over a page break is cited with both pages


def test_headings_of_a_pdf_become_sections(pdf_corpus):
    (doc,) = read_corpus(pdf_corpus).documents
    ps = check_offsets(doc)
    assert {p.section for p in ps} >= {"Part 1 findings", "Part 4 findings"}
    assert all(not p.text.startswith("Part ") for p in ps)


def test_a_compound_written_elsewhere_keeps_its_hyphen_across_a_line_end(tmp_path):
    long = ("Well-known " + "reports of well-known abuses were confirmed by many observers " * 12).strip()
    make_pdf(tmp_path / "c.pdf", [("", [long + "."])], page_numbers=False, hyphenate=False)
    doc = read_document(tmp_path / "c.pdf", root=tmp_path, metadata={})
    assert "wellknown" not in doc.text.lower()


def test_a_two_column_page_is_read_column_by_column(tmp_path):
    left, right = paragraph(1, 90), paragraph(2, 90)
    make_two_column_pdf(tmp_path / "cols.pdf", "Detention and famine", left, right)
    doc = read_document(tmp_path / "cols.pdf", root=tmp_path, metadata={})
    assert words(doc.text) == words("Detention and famine " + left + " " + right)
    ps = check_offsets(doc)
    assert [p.text for p in ps] == [left, right] and {p.section for p in ps} == {"Detention and famine"}


# --- scanned PDFs --------------------------------------------------------------------


def test_a_scanned_pdf_without_tesseract_is_skipped_naming_what_to_install(tmp_path, monkeypatch):
    make_scanned_pdf(tmp_path / "scan.pdf", ["The prisoners were moved at night."])
    (tmp_path / "note.txt").write_text("Prisoners were moved at night, witnesses said.\n")
    monkeypatch.setenv("PATH", str(tmp_path / "no-programs-here"))  # as on a machine without Tesseract
    corpus = read_corpus(tmp_path)
    (skipped,) = corpus.skipped
    assert Path(skipped.path).name == "scan.pdf"
    assert "no text layer" in skipped.reason and "apt-get install tesseract-ocr" in skipped.reason
    assert [Path(d.path).name for d in corpus.documents] == ["note.txt"]


def test_a_pdf_with_some_scanned_pages_is_not_indexed_half_without_tesseract(tmp_path, monkeypatch):
    import pypdf

    make_pdf(tmp_path / "text.pdf", [("Findings", ["Witnesses described the transfer of prisoners at night."])])
    make_scanned_pdf(tmp_path / "scan.pdf", ["The prisoners were moved at night."])
    writer = pypdf.PdfWriter()
    for part in ("text.pdf", "scan.pdf"):
        writer.append(str(tmp_path / part))
    corpus_dir = tmp_path / "corpus"
    corpus_dir.mkdir()
    with open(corpus_dir / "mixed.pdf", "wb") as f:
        writer.write(f)
    (corpus_dir / "note.txt").write_text("Prisoners were moved at night, witnesses said.\n")
    monkeypatch.setenv("PATH", str(tmp_path / "no-programs-here"))
    corpus = read_corpus(corpus_dir)
    (skipped,) = corpus.skipped
    assert Path(skipped.path).name == "mixed.pdf"
    assert "1 of 2 pages are scanned" in skipped.reason and "(p. 2)" in skipped.reason
    assert "apt-get install tesseract-ocr" in skipped.reason


@pytest.mark.skipif(shutil.which("tesseract") is None, reason="Tesseract is not installed (apt-get install tesseract-ocr)")
def test_a_scanned_pdf_is_read_by_ocr_and_cited_as_ocr_text(tmp_path):
    make_scanned_pdf(tmp_path / "scan.pdf", ["The prisoners were moved to the camp", "at night in closed trucks."])
    doc = read_document(tmp_path / "scan.pdf", root=tmp_path, metadata={})
    assert doc.ocr_pages == (1,)
    assert "prisoners were moved to the camp" in " ".join(doc.text.split())
    (p,) = check_offsets(doc)
    assert p.ocr and p.page == 1
    c = cite(p, doc)
    assert "p. 1, OCR text" in c.text() and citation_json(c)["ocr"] is True


# --- Word and HTML ---------------------------------------------------------------------


def test_a_docx_gives_paragraphs_headings_lists_tables_and_metadata(tmp_path):
    make_docx(
        tmp_path / "memo.docx", sections(2, 2), title="Memo on camps", author="Docs Org",
        date=datetime.datetime(2020, 1, 2, 10, 0), bullets=["Close the camps now", "Free the prisoners"],
        table=[["Year", "Cases"], ["2019", "12"]],
    )
    doc = read_document(tmp_path / "memo.docx", root=tmp_path, metadata={})
    assert (doc.title, doc.organization, doc.date) == ("Memo on camps", "Docs Org", "2020-01-02")
    assert "• Close the camps now\n• Free the prisoners" in doc.text
    assert "Year | Cases\n2019 | 12" in doc.text
    ps = check_offsets(doc)
    assert {p.section for p in ps} == {"Part 1 findings", "Part 2 findings"}
    assert words(doc.text) == [w for w in words(doc.text) if w]  # no empty words
    for h, paras in sections(2, 2):
        for para in paras:
            assert para in doc.text


def test_an_html_page_keeps_its_article_without_navigation_scripts_or_footer(tmp_path):
    secs = sections(2, 3)
    (tmp_path / "page.html").write_text(
        make_html(secs, title="Prison camps report", author="Jane Roe", site="Rights Watchers", date="2021-03-04"),
        encoding="utf-8",
    )
    doc = read_document(tmp_path / "page.html", root=tmp_path, metadata={})
    assert (doc.title, doc.organization, doc.date) == ("Prison camps report", "Rights Watchers", "2021-03-04")
    for marker in ("NAVMARKER", "COOKIEMARKER", "SIDEMARKER", "FOOTERMARKER", "UA-SCRIPT", "font-family", "<"):
        assert marker not in doc.text
    for _, paras in secs:
        for para in paras:
            assert para in doc.text
    assert {p.section for p in check_offsets(doc)} == {"Part 1 findings", "Part 2 findings"}


def test_sidecar_metadata_sets_title_organisation_date_and_kind_for_any_format(tmp_path):
    make_pdf(tmp_path / "a.pdf", sections(1, 2), title="PDF title", author="PDF author")
    make_docx(tmp_path / "b.docx", sections(1, 2), title="Word title")
    (tmp_path / "c.html").write_text(make_html(sections(1, 2), title="Page title", site="Site"), encoding="utf-8")
    entries = [
        {"file": name, "doc_id": f"doc-{i}", "title": f"Title {i}", "organization": f"Org {i}", "date": f"201{i}",
         "kind": "report"}
        for i, name in enumerate(["a.pdf", "b.docx", "c.html"])
    ]
    (tmp_path / "metadata.json").write_text(json.dumps({"documents": entries}))
    docs = {d.doc_id: d for d in read_corpus(tmp_path).documents}
    for i in range(3):
        d = docs[f"doc-{i}"]
        assert (d.title, d.organization, d.date, d.kind) == (f"Title {i}", f"Org {i}", f"201{i}", "report")


# --- encodings -----------------------------------------------------------------------


def test_utf16_latin1_and_cp1252_text_is_decoded(tmp_path):
    text = "Café owners in Pyongyang were detained “without trial” for months.\n"
    (tmp_path / "bom16.txt").write_bytes(text.encode("utf-16"))
    (tmp_path / "le16.txt").write_bytes(text.encode("utf-16-le"))
    (tmp_path / "latin1.txt").write_bytes(text.replace("“", '"').replace("”", '"').encode("latin-1"))
    (tmp_path / "cp1252.txt").write_bytes(text.encode("cp1252"))
    corpus = read_corpus(tmp_path)
    assert corpus.skipped == ()
    got = {Path(d.path).name: d.text for d in corpus.documents}
    assert got["bom16.txt"].lstrip("\ufeff") == text and got["le16.txt"] == text
    assert got["latin1.txt"] == text.replace("“", '"').replace("”", '"') and got["cp1252.txt"] == text


def test_text_whose_encoding_cannot_be_told_says_how_to_convert_it(tmp_path):
    (tmp_path / "ok.txt").write_text("Detainees were released.\n")
    (tmp_path / "junk.txt").write_bytes(bytes(range(128, 256)) * 40)
    corpus = read_corpus(tmp_path)
    (s,) = corpus.skipped
    assert Path(s.path).name == "junk.txt" and "iconv" in s.reason and "UTF-8" in s.reason


# --- bad input -----------------------------------------------------------------------


def _encrypted_pdf(src: Path, dst: Path) -> Path:
    import pypdf

    w = pypdf.PdfWriter(clone_from=pypdf.PdfReader(src))
    w.encrypt(user_password="secret", owner_password="owner", algorithm="AES-256")
    w.write(dst)
    return dst


def test_every_bad_file_is_one_named_line_and_the_rest_is_read(tmp_path):
    root = tmp_path / "mixed"
    root.mkdir()
    good = make_pdf(root / "good.pdf", sections(1, 2), title="Good")
    raw = good.read_bytes()
    (root / "corrupt.pdf").write_bytes(raw[: len(raw) // 3])
    _encrypted_pdf(good, root / "locked.pdf")
    (root / "empty.txt").write_bytes(b"")
    (root / "junk.txt").write_bytes(os.urandom(4096) + b"\0")
    (root / "huge.txt").write_bytes(b"")
    os.truncate(root / "huge.txt", 200 * 1024 * 1024)  # 200 MB on disk, no time to write it
    (root / "pdf-named.docx").write_bytes(raw)  # the extension lies: read for what it is
    (root / "png-named.pdf").write_bytes(b"\x89PNG\r\n\x1a\n" + os.urandom(200))
    (root / "html-named.txt").write_text(make_html(sections(1, 2), title="Saved page", site="Site"), encoding="utf-8")
    (root / "photo.png").write_bytes(b"\x89PNG\r\n\x1a\n")
    make_docx(root / "memo.docx", sections(1, 1))
    corpus = read_corpus(root)
    reasons = {Path(s.path).name: s.reason for s in corpus.skipped}
    assert set(reasons) == {"corrupt.pdf", "locked.pdf", "empty.txt", "junk.txt", "huge.txt", "png-named.pdf", "photo.png"}
    assert "damaged PDF" in reasons["corrupt.pdf"]
    assert "encrypted" in reasons["locked.pdf"] and "password" in reasons["locked.pdf"]
    assert reasons["empty.txt"] == "empty file"
    assert "binary" in reasons["junk.txt"]
    assert "too large (200 MB" in reasons["huge.txt"] and "--max-file-mb" in reasons["huge.txt"]
    assert "PNG image" in reasons["png-named.pdf"]
    assert "not a supported format (.png)" in reasons["photo.png"]
    assert all("\n" not in r for r in reasons.values())
    docs = docs_by_name(corpus)
    assert set(docs) == {"good.pdf", "pdf-named.docx", "html-named.txt", "memo.docx"}
    assert docs["pdf-named.docx"].text == docs["good.pdf"].text and docs["pdf-named.docx"].pages
    assert "NAVMARKER" not in docs["html-named.txt"].text and docs["html-named.txt"].title == "Saved page"


def test_a_pdf_encrypted_without_a_user_password_is_read(tmp_path):
    import pypdf

    good = make_pdf(tmp_path / "src.pdf", sections(1, 2))
    w = pypdf.PdfWriter(clone_from=pypdf.PdfReader(good))
    w.encrypt(user_password="", owner_password="owner", algorithm="AES-128")  # printing/copy limits only
    w.write(tmp_path / "limited.pdf")
    doc = read_document(tmp_path / "limited.pdf", root=tmp_path, metadata={})
    assert doc.text == read_document(good, root=tmp_path, metadata={}).text


def test_the_size_limit_is_configurable(tmp_path):
    (tmp_path / "a.txt").write_text("Detainees were released after a week. " * 100)
    (tmp_path / "b.txt").write_text("Small file about the border.\n")
    paths, skipped = discover(tmp_path, max_file_bytes=1000)
    assert [p.name for p in paths] == ["b.txt"] and "too large" in skipped[0].reason
    assert len(discover(tmp_path)[0]) == 2


@contextlib.contextmanager
def unprivileged():
    """Act as an unprivileged user for a moment (root reads every file, so a permission test needs one)."""
    if os.geteuid() != 0:
        yield
        return
    os.seteuid(65534)
    try:
        yield
    finally:
        os.seteuid(0)


@pytest.fixture
def open_tmp(tmp_path_factory):
    """A folder every user may enter (pytest's own tmp folders are private to their owner)."""
    import tempfile

    d = Path(tempfile.mkdtemp(prefix="formats-perm-"))
    d.chmod(0o755)
    yield d
    shutil.rmtree(d, ignore_errors=True)


def test_unreadable_files_and_folders_are_named_not_a_traceback(open_tmp):
    root = open_tmp / "corpus"
    (root / "locked").mkdir(parents=True)
    (root / "locked" / "inside.txt").write_text("Hidden away.\n")
    (root / "ok.txt").write_text("Detainees were released after a week.\n")
    (root / "secret.txt").write_text("Not for you.\n")
    for p in (root, root / "ok.txt"):
        p.chmod(0o755 if p.is_dir() else 0o644)
    (root / "secret.txt").chmod(0o000)
    (root / "locked").chmod(0o000)
    read_corpus(root.parent)  # imports done while privileged
    try:
        with unprivileged():
            corpus = read_corpus(root)
            fp = files_fingerprint(root)
    finally:
        (root / "locked").chmod(0o755)
    assert [d.doc_id for d in corpus.documents] == ["ok"]
    reasons = {Path(s.path).name: s.reason for s in corpus.skipped}
    assert reasons == {"locked": "folder cannot be read (permission denied)", "secret.txt": "cannot be read (permission denied)"}
    assert fp != files_fingerprint(root)  # the freshness check sees an unreadable file as a change


# --- links ---------------------------------------------------------------------------


def test_links_loops_dangling_and_outside_ones_are_named(tmp_path):
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    (outside / "passwd.txt").write_text("root:x:0:0:root:/root:/bin/bash\n")
    root = tmp_path / "corpus"
    (root / "sub").mkdir(parents=True)
    (root / "sub" / "real.txt").write_text("Detainees were released after a week.\n")
    (root / "passwd.txt").symlink_to(outside / "passwd.txt")
    (root / "outdir").symlink_to(outside, target_is_directory=True)
    (root / "gone.txt").symlink_to(root / "nowhere.txt")
    (root / "sub" / "loop").symlink_to(root, target_is_directory=True)
    (root / "self.txt").symlink_to(root / "self.txt")
    (root / "alias.txt").symlink_to(root / "sub" / "real.txt")
    corpus = read_corpus(root)
    assert [d.doc_id for d in corpus.documents] == ["alias"]  # a link inside the folder is read once
    reasons = {Path(s.path).name: s.reason for s in corpus.skipped}
    assert set(reasons) == {"passwd.txt", "outdir", "gone.txt", "loop", "self.txt", "real.txt"}
    assert "outside the corpus folder" in reasons["passwd.txt"] and "--follow-links" in reasons["passwd.txt"]
    assert "outside the corpus folder" in reasons["outdir"]
    assert "broken link" in reasons["gone.txt"]
    assert "loop" in reasons["loop"] and "loop" in reasons["self.txt"]
    assert "same file as" in reasons["real.txt"]
    followed = read_corpus(root, follow_links=True)
    assert {Path(d.source).name for d in followed.documents} == {"alias.txt", "passwd.txt"}
    assert {Path(s.path).name for s in followed.skipped} == {"gone.txt", "loop", "self.txt", "real.txt", "passwd.txt"}


# --- freshness and the command line ----------------------------------------------------


def test_files_fingerprint_changes_with_any_byte_and_with_metadata(tmp_path):
    make_pdf(tmp_path / "a.pdf", sections(1, 1))
    fp = files_fingerprint(tmp_path)
    assert files_fingerprint(tmp_path) == fp
    (tmp_path / "metadata.json").write_text('{"documents": []}')
    fp2 = files_fingerprint(tmp_path)
    assert fp2 != fp
    with (tmp_path / "a.pdf").open("ab") as f:
        f.write(b"\n")
    assert files_fingerprint(tmp_path) != fp2


def test_build_counts_what_it_skipped_and_fails_when_everything_was(tmp_path, capsys, tiny_encoder):
    from assistant.cli.main import main

    root = tmp_path / "docs"
    root.mkdir()
    make_pdf(root / "report.pdf", sections(1, 2), title="Report")
    (root / "empty.txt").write_bytes(b"")
    code = main(["build", "--corpus", str(root), "--index", str(tmp_path / "index")], encoder=tiny_encoder)
    out, err = capsys.readouterr()
    assert code == 0, err
    assert re.search(r"indexed 1 document, \d+ passages into .* in [\d.]+ s; skipped 1, listed above", out)
    assert f"skipped {root / 'empty.txt'}: empty file" in err
    (root / "report.pdf").unlink()
    code = main(["build", "--corpus", str(root), "--index", str(tmp_path / "index2")], encoder=tiny_encoder)
    out, err = capsys.readouterr()
    assert code == 1 and "no readable documents" in err and "empty.txt: empty file" in err
    assert "Traceback" not in err


def test_a_pdf_answer_cites_its_page_in_json_terminal_chat_and_sources(tmp_path, tiny_encoder):
    from assistant.answer.json_format import to_json
    from assistant.web.chat import Chat, render_answer, source_line
    from assistant.pipeline.build import build_index
    from assistant.index.folder import load_index
    from assistant.pipeline.service import Assistant

    root = tmp_path / "reports"
    root.mkdir()
    make_pdf(root / "annual.pdf", sections(), title="Annual report", header="Annual report — Rights Watchers")
    build_index(root, encoder=tiny_encoder, out_dir=tmp_path / "index")
    index = load_index(tmp_path / "index")  # pages survive the round trip through the index files
    doc = index.documents["annual"]
    assert doc.pages and all(p.page >= 1 for p in index.passages)
    target = next(p for p in index.passages if p.page >= 2)
    marker = re.findall(r"m\d+x\d+", target.text)[0]
    assistant = Assistant.open(tmp_path / "index", encoder=tiny_encoder)
    answer = assistant.ask(f"{marker} {marker}", k=3)
    hit = to_json(answer)["hits"][0]
    assert hit["passage_id"] == target.passage_id and hit["page"] == target.page
    assert hit["source"] == "reports/annual.pdf" and doc.text[hit["start"] : hit["end"]] == hit["text"]
    assert f"p. {target.page}" in hit["citation"]
    assert f"p. {target.page}" in source_line(answer.quotes[0]) and f"p. {target.page}" in render_answer(answer)
    assert f"p. {target.page}" in Chat(assistant).source_html(target.passage_id)


def test_a_short_web_page_is_read_without_its_navigation(tmp_path):
    (tmp_path / "note.html").write_text(
        "<html><head><title>Note</title></head><body><nav><a href=/>Home</a> <a href=/about>About</a></nav>"
        "<p>Short note about the detention of two journalists.</p><footer>Contact us</footer></body></html>"
    )
    doc = read_document(tmp_path / "note.html", root=tmp_path, metadata={})
    assert doc.text == "Short note about the detention of two journalists.\n" and doc.title == "Note"
