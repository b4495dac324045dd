"""Tables in PDFs kept whole (cell | cell rows, header with every piece) and PDF titles
when the metadata has none: PDFs drawn here with reportlab.

Each table test checks that the cells end up in the right row under the right header,
and that every passage is the extracted text at its offsets.
"""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest

from assistant.answer.json_format import citation_json
from assistant.answer.model import cite
from assistant.ingest.corpus import Document, passages_of, read_document
from assistant.ingest.formats.pdf_table_finder import may_hold_table
from assistant.ingest.formats.pdf_title import TypePiece, heading_of, usable_name, usable_title
from assistant.answer.tables import cell_highlights, table_context
from assistant.ingest.tables import TableSpan
import tablegen
from tablegen import EXECUTIONS, PROSE, RATIONS

def _read(path: Path) -> Document:
    doc = read_document(path, root=path.parent, metadata={})
    for p in passages_of(doc):
        assert doc.text[p.start : p.end] == p.text  # the quote guarantee
    return doc


def _table_rows(doc: Document, i: int = 0) -> list[list[str]]:
    t = doc.tables[i]
    return [row.split(" | ") for row in doc.text[t.start : t.end].split("\n")]


def _cell(doc: Document, row_label: str, column: str, i: int = 0) -> str:
    """The cell of the row that starts with ``row_label`` under the header ``column``."""
    rows = _table_rows(doc, i)
    return next(r for r in rows if r[0] == row_label)[rows[0].index(column)]


# ------------------------------------------------------------------ the five layouts


def test_a_ruled_grid_becomes_one_passage_of_rows_under_its_header(tmp_path):
    doc = _read(tablegen.grid(tmp_path / "grid.pdf"))
    assert _table_rows(doc) == EXECUTIONS
    assert _cell(doc, "North Hamgyong", "2017") == "11"
    table = [p for p in passages_of(doc) if p.start == doc.tables[0].start]
    assert len(table) == 1 and table[0].text.startswith("Province | 2015") and table[0].page == 1
    assert doc.tables[0].caption == "Table 1: public executions by province and year."
    assert PROSE.strip() in doc.text  # the running text around it is still there, before it
    assert doc.text.index(PROSE.strip()) < doc.tables[0].start


def test_a_table_without_ruling_lines_is_read_row_by_row_not_column_by_column(tmp_path):
    # wide gaps between the year columns: pypdf's text alone reads this table as two columns of text
    doc = _read(tablegen.unruled(tmp_path / "unruled.pdf"))
    assert _table_rows(doc) == EXECUTIONS
    assert "North Hamgyong | 21 | 18 | 11 | 9 | 6" in doc.text
    assert doc.title == "Public executions recorded by province, 2015-2019"


def test_a_table_in_one_column_of_a_two_column_page(tmp_path):
    doc = _read(tablegen.two_column(tmp_path / "two.pdf"))
    rows = RATIONS
    assert _table_rows(doc) == rows
    assert _cell(doc, "March", "Ration (g)") == "400"
    # reading order: the left column, then the right column's text, its table, the text under the table
    text = doc.text
    assert text.rindex("Left column.") < text.index("Right column.") < doc.tables[0].start < text.index("After the table.")
    assert "Ration (g)" not in text[: doc.tables[0].start]


def test_a_60_row_table_over_two_pages_is_cut_between_rows_each_piece_with_its_header(tmp_path):
    doc = _read(tablegen.long_table(tmp_path / "long.pdf"))
    rows = tablegen.detained(60)
    assert len(doc.pages) == 2 and len(doc.tables) == 1  # one table, its repeated header row left out
    assert _table_rows(doc) == rows
    pieces = [p for p in passages_of(doc) if doc.tables[0].start <= p.start < doc.tables[0].end]
    assert len(pieces) >= 3 and {p.page for p in pieces} == {1, 2}
    for p in pieces:
        lines = p.text.split("\n")
        assert all(len(line.split(" | ")) == 4 for line in lines)  # whole rows only
        context = table_context(doc.text, doc.tables, p.start)
        if p.start == doc.tables[0].start:
            assert lines[0] == "No. | Name | Detained | Charge" and context.header == ""
        else:
            assert context.header == "No. | Name | Detained | Charge"
            c = cite(p, doc)
            assert c.table_header == context.header and citation_json(c)["table_header"] == context.header
    last = next(p for p in pieces if "47 | Person 047" in p.text)
    assert last.page == 2 and "47 | Person 047 | 2018-12-20 | religion" in last.text.split("\n")


def test_a_table_beside_running_text_stays_out_of_the_text(tmp_path):
    doc = _read(tablegen.beside_text(tmp_path / "beside.pdf"))
    rows = tablegen.CASES
    assert _table_rows(doc) == rows
    assert _cell(doc, "2017", "Cases") == "28"
    prose = doc.text[doc.tables[0].end :]
    assert "2016" not in prose and "Cases" not in prose and prose.count("Witnesses described") == 9


def test_a_pdf_without_a_table_reads_as_before(tmp_path):
    from reportlab.platypus import Paragraph

    st, _ = tablegen.styles()
    doc = _read(tablegen.simple(tmp_path / "plain.pdf", [Paragraph("Report", st["Title"])]
                        + [Paragraph(PROSE * 2, st["Normal"])] * 4))
    assert doc.tables == () and " | " not in doc.text
    assert not may_hold_table(PROSE * 3)


# ------------------------------------------------------------------ questions about a cell


def test_a_question_naming_a_column_marks_the_row_and_the_cell():
    text = "Province | 2015 | 2017\nRyanggang | 12 | 14\nNorth Hamgyong | 21 | 11\n"
    tables = (TableSpan(0, len(text) - 1, text.index("\n")),)
    row = (text.index("North"), len(text) - 1)
    got = cell_highlights(text, tables, (row,), "How many in North Hamgyong in 2017?")
    assert [text[a:b] for a, b in got] == ["North Hamgyong", "11"]
    assert cell_highlights(text, tables, (row,), "How many in North Hamgyong?") == (row,)  # no column named: the row


def test_ask_shows_the_row_with_its_header_and_caption_in_the_terminal_chat_and_json(tmp_path, tiny_encoder):
    from assistant.answer.json_format import to_json
    from assistant.answer.terminal import to_text
    from assistant.pipeline.build import build_index
    from assistant.pipeline.service import Assistant
    from assistant.web.chat import render_answer

    root = tmp_path / "reports"
    root.mkdir()
    tablegen.long_table(root / "long.pdf")
    build_index(root, encoder=tiny_encoder, out_dir=tmp_path / "index")
    answer = Assistant.open(tmp_path / "index", encoder=tiny_encoder).ask("Person 047 Person 047", k=3)
    q = next(q for q in answer.quotes if "Person 047" in q.text)
    header = "No. | Name | Detained | Charge"
    caption = tablegen.DETAINED_CAPTION
    assert not q.text.startswith(header)  # a piece from the middle of the table
    assert (q.citation.table_header, q.citation.table_caption) == (header, caption)
    terminal = to_text(answer)
    assert f"table header: {header}" in terminal and f"table caption: {caption}" in terminal
    chat = render_answer(answer)
    assert "*table header:* No. \\| Name \\| Detained \\| Charge" in chat or f"*table header:* {header}" in chat
    assert "*table caption:* Table 2" in chat
    hit = next(h for h in to_json(answer)["hits"] if "Person 047" in h["text"])
    assert (hit["table_header"], hit["table_caption"]) == (header, caption)
    for text in (terminal, chat, json.dumps(to_json(answer))):
        assert "(anonymous)" not in text


# ------------------------------------------------------------------ titles


def test_a_pdf_without_a_metadata_title_is_cited_by_its_first_heading(tmp_path):
    from reportlab.platypus import Paragraph

    st, _ = tablegen.styles()
    path = tablegen.simple(tmp_path / "report.pdf", [Paragraph("Public executions recorded by province, 2015-2019", st["Title"]),
                                             Paragraph(PROSE, st["Normal"])])
    doc = _read(path)  # reportlab writes "(anonymous)" as title and author
    assert doc.title == "Public executions recorded by province, 2015-2019" and doc.organization == ""
    c = cite(passages_of(doc)[0], doc)
    assert c.text().startswith("“Public executions recorded by province, 2015-2019”. ")
    assert "anonymous" not in c.text()


def test_a_pdf_without_title_or_heading_is_cited_by_its_file_name(tmp_path):
    from reportlab.platypus import Paragraph

    st, _ = tablegen.styles()
    doc = _read(tablegen.simple(tmp_path / "field_notes-2019.pdf", [Paragraph(PROSE * 2, st["Normal"])]))
    assert doc.title == "field notes 2019"


@pytest.mark.parametrize("title", ["", "untitled", "Untitled document", "(anonymous)", "Microsoft Word - draft3.docx",
                                   "draft3.docx", "Document1", "report.pdf"])
def test_placeholder_titles_are_not_usable(title):
    assert not usable_title(title)


@pytest.mark.parametrize("title", ["Annual report 2019", "Public executions, 2015-2019", "Untold stories"])
def test_real_titles_are_usable(title):
    assert usable_title(title)


def test_placeholder_authors_are_no_organisation():
    assert not usable_name("(anonymous)") and not usable_name("unknown") and not usable_name("")
    assert usable_name("Rights Watchers")


def test_the_heading_is_the_largest_type_when_larger_than_the_text():
    words = [TypePiece("Big", 18, 10, 0), TypePiece("title", 18, 10, 30),
             TypePiece("body", 10, 40, 0), TypePiece("text", 10, 40, 30)]
    assert heading_of(words) == "Big title"
    assert heading_of([replace(w, size=10) for w in words]) == ""
    # a title in small capitals, as the R FAQ's first page draws it: "R" at 20.7 pt, " FAQ" at
    # 17.2 on the same line; the subtitle below, in body type, is not part of it
    faq = [TypePiece("R", 20.7, 562, 90), TypePiece("FAQ", 17.2, 562, 115),
           TypePiece("Frequently Asked Questions on R", 10.9, 585, 361), TypePiece("Version 2022-09-08", 10.9, 598, 432),
           TypePiece("Kurt Hornik", 14.3, 998, 90)]
    assert heading_of(faq) == "R FAQ"


# ------------------------------------------------------------------ bad input

_READ = """
import json, resource, sys, time
resource.setrlimit(resource.RLIMIT_AS, (int(sys.argv[2]), int(sys.argv[2])))
from assistant.ingest.corpus import passages_of, read_corpus
t = time.perf_counter()
c = read_corpus(sys.argv[1])
out = {"documents": {d.source: {"tables": len(d.tables), "passages": len(passages_of(d)), "text": d.text[:20000], "tail": d.text[-300:]}
                     for d in c.documents}, "skipped": {s.path: s.reason for s in c.skipped},
       "seconds": time.perf_counter() - t}
print(json.dumps(out))
"""
CAP = int(1.5 * (1 << 30))  # the address space the reading tests of tests/test_abuse_files.py give


def _read_capped(corpus: Path, timeout: float = 120) -> dict:
    done = subprocess.run([sys.executable, "-c", _READ, str(corpus), str(CAP)], capture_output=True, text=True,
                          timeout=timeout, cwd=corpus.parent)
    assert done.returncode == 0 and "Traceback" not in done.stderr, done.stderr[-2000:]
    return json.loads(done.stdout)


def test_bad_tables_are_indexed_without_a_traceback_within_the_memory_cap(tmp_path):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    for name, make in tablegen.BAD.items():
        make(corpus / f"{name}.pdf")
    got = _read_capped(corpus)
    docs = got["documents"]
    assert {"corpus/huge.pdf", "corpus/merged.pdf", "corpus/empty.pdf"} <= set(docs)
    # the page that is one 1,000-row table: read as one table, every row under its header
    huge = docs["corpus/huge.pdf"]
    assert huge["tables"] == 1 and huge["text"].startswith("Row | Value | Note\n0 | 0 | checked\n")
    assert "\n999 | 6993 | checked" in huge["tail"] and huge["passages"] > 10
    # merged cells: the label set across two rows is kept, the rows stay under their columns
    merged = docs["corpus/merged.pdf"]
    assert merged["tables"] == 1 and "Camp | Population" in merged["text"]
    assert "\nYodok | 30,000 | 35,000\n" in merged["text"] and "\nHwasong |  | 20,000" in merged["text"]
    assert merged["text"].count(PROSE.strip()) == 2  # the text around the table whole and in order
    # an empty table is no table; the text around it is read as before
    empty = docs["corpus/empty.pdf"]
    assert empty["tables"] == 0 and empty["text"].count(PROSE.strip()) == 2
    scanned = docs.get("corpus/scanned.pdf")
    if scanned is None:  # no Tesseract: skipped with the reason, as before
        assert "Tesseract" in got["skipped"][str(corpus / "scanned.pdf")]
    else:  # OCR text has no grid: read as text, as before
        assert scanned["tables"] == 0 and "Ryanggang" in scanned["text"]


# ------------------------------------------------------------------ organisation placeholders in every format


@pytest.mark.parametrize("placeholder", ["(anonymous)", "unknown", "Unknown"])
def test_a_placeholder_author_is_left_out_of_citations_in_every_format(tmp_path, tiny_encoder, placeholder):
    from docgen import make_docx, make_html, make_pdf

    from assistant.answer.json_format import to_json
    from assistant.answer.terminal import to_text
    from assistant.pipeline.build import build_index
    from assistant.pipeline.service import Assistant
    from assistant.web.chat import render_answer

    root = tmp_path / "docs"
    root.mkdir()
    body = [("Rations", ["Rations in the camps fell to 300 grams of maize a day in the winter of 2019."])]
    make_pdf(root / "a.pdf", body, title="Rations report", author=placeholder)
    make_docx(root / "b.docx", body, title="Rations memo", author=placeholder)
    (root / "c.html").write_text(make_html(body, title="Rations page", author=placeholder), encoding="utf-8")
    build_index(root, encoder=tiny_encoder, out_dir=tmp_path / "index")
    a = Assistant.open(tmp_path / "index", encoder=tiny_encoder)
    assert {d.source.rsplit(".", 1)[1]: d.organization for d in a.index.documents.values()} == {
        "pdf": "", "docx": "", "html": ""}
    answer = a.ask("rations maize grams winter", k=5)
    cited = [c for q in answer.quotes for c in (q.citation, *q.also_in)]  # the same text in three files: one quote
    assert {c.source.rsplit(".", 1)[1] for c in cited} == {"pdf", "docx", "html"}
    for shown in (to_text(answer), render_answer(answer), json.dumps(to_json(answer), ensure_ascii=False)):
        assert placeholder not in shown


# ------------------------------------------------------------------ the quote guarantee through an index


def test_every_table_quote_is_the_extracted_text_at_its_offsets(tmp_path, tiny_encoder):
    from assistant.pipeline.build import build_index
    from assistant.pipeline.service import Assistant

    root = tmp_path / "reports"
    root.mkdir()
    for name, make in tablegen.LAYOUTS.items():
        make(root / f"{name}.pdf")
    build_index(root, encoder=tiny_encoder, out_dir=tmp_path / "index")
    a = Assistant.open(tmp_path / "index", encoder=tiny_encoder)
    fresh = {d.source: read_document(root / d.source.split("/", 1)[1], root=root, metadata={})
             for d in a.index.documents.values()}
    table_passages = 0
    for p in a.index.passages:
        doc = a.index.documents[p.doc_id]
        again = fresh[doc.source]
        assert again.text == doc.text and again.tables == doc.tables  # reading is deterministic
        assert doc.text[p.start : p.end] == p.text
        if any(t.start <= p.start < t.end for t in doc.tables):
            table_passages += 1
            assert p.end <= next(t.end for t in doc.tables if t.start <= p.start < t.end)  # never past its table
            assert all(" | " in line for line in p.text.split("\n"))  # rows only
    assert table_passages >= len(tablegen.LAYOUTS) + 2  # the long table is in three pieces or more
    for question in ("North Hamgyong 2017", "Person 047", "March ration", "2017 cases"):
        for q in a.ask(question, k=5).quotes:
            doc = fresh[q.citation.source]
            assert doc.text[q.citation.start : q.citation.end] == q.text
            assert all(q.citation.start <= s < e <= q.citation.end for s, e in q.highlights)


# ------------------------------------------------------------------ the issue's question, with the real model


@pytest.mark.model
def test_the_issue_question_quotes_the_row_and_marks_north_hamgyong_and_11(tmp_path, real_encoder):
    from assistant.answer.terminal import to_text
    from assistant.pipeline.build import build_index
    from assistant.pipeline.service import Assistant

    root = tmp_path / "reports"
    root.mkdir()
    tablegen.grid(root / "executions.pdf")
    build_index(root, encoder=real_encoder, out_dir=tmp_path / "index")
    answer = Assistant.open(tmp_path / "index").ask(
        "How many public executions were recorded in North Hamgyong in 2017?")
    top = answer.quotes[0]
    assert top.text.split("\n")[0] == "Province | 2015 | 2016 | 2017 | 2018 | 2019"  # the header with the rows
    marked = [top.text[a - top.citation.start : b - top.citation.start] for a, b in top.highlights]
    assert marked == ["North Hamgyong", "11"]
    assert top.citation.title == tablegen.EXECUTIONS_TITLE and top.citation.organization == ""
    shown = to_text(answer)
    assert "»North Hamgyong« | 21 | 18 | »11« | 9 | 6" in shown and "(anonymous)" not in shown


# ------------------------------------------------------------------ the same rules for web pages and Word


@pytest.mark.parametrize("suffix", [".html", ".docx"])
def test_a_long_table_in_a_web_page_or_word_file_is_cut_between_rows_with_its_header(tmp_path, suffix):
    from docgen import make_docx, make_html

    rows = tablegen.detained(60)
    body = [("Detained people", [PROSE])]
    path = tmp_path / f"detained{suffix}"
    if suffix == ".docx":
        make_docx(path, body, title="Detained people", table=rows)
    else:
        html = make_html(body, title="Detained people")
        table = "<table>" + "".join("<tr>" + "".join(f"<td>{c}</td>" for c in r) + "</tr>" for r in rows) + "</table>"
        path.write_text(html.replace("</article>", table + "</article>"), encoding="utf-8")
    doc = _read(path)
    assert len(doc.tables) == 1 and _table_rows(doc) == rows
    pieces = [p for p in passages_of(doc) if doc.tables[0].start <= p.start < doc.tables[0].end]
    assert len(pieces) >= 3
    for p in pieces:
        assert all(len(line.split(" | ")) == 4 for line in p.text.split("\n"))  # whole rows only
        header = table_context(doc.text, doc.tables, p.start).header
        assert header == ("" if p.start == doc.tables[0].start else "No. | Name | Detained | Charge")


# ------------------------------------------------------------------ quote rectangles (issue 24) on table passages


def test_the_rectangles_of_a_table_quote_cover_its_rows_cells_and_nothing_outside_the_table(tmp_path):
    """The ``cell | cell`` text has separators that are not on the page: the rectangles are
    found by the cells' letters, one a row, over every word of every row quoted."""
    import pdfplumber

    from assistant.ingest.formats.pdf_table_finder import find_tables
    from assistant.ingest.formats.pdf_words import lines_of
    from assistant.ingest.pdf_boxes import quote_rects

    for name, make in tablegen.LAYOUTS.items():
        path = make(tmp_path / f"{name}.pdf")
        doc = _read(path)
        pieces = [p for p in passages_of(doc) if any(t.start <= p.start < t.end for t in doc.tables)]
        assert pieces, name
        with pdfplumber.open(path) as pdf:
            for p in pieces:
                rects = quote_rects(str(path), p.text, p.page, p.last_page)
                rows = {" ".join(row.replace(" | ", " ").split()) for row in p.text.split("\n")}
                assert len(rects) == len(rows), (name, p.passage_id)  # one rectangle a row
                covered = 0
                for n in range(p.page, max(p.page, p.last_page) + 1):
                    page = pdf.pages[n - 1]
                    tables, words = find_tables(page, number=n)
                    for t in tables:
                        inside = [w for w in words if t.bbox[0] - 1 <= (w.x0 + w.x1) / 2 <= t.bbox[2] + 1
                                  and t.bbox[1] - 1 <= (w.top + w.bottom) / 2 <= t.bbox[3] + 1]
                        for line in lines_of(inside):
                            if " ".join(w.text for w in line) not in rows:
                                continue
                            for w in line:  # PDF space: y up from the bottom of the page
                                x, y = (w.x0 + w.x1) / 2, page.height - (w.top + w.bottom) / 2
                                assert any(r.page == n and r.x0 - 1 <= x <= r.x1 + 1 and r.y0 - 1 <= y <= r.y1 + 1
                                           for r in rects), (name, p.passage_id, w.text)
                                covered += 1
                        for r in (r for r in rects if r.page == n):  # no rectangle on the title or the text
                            top, bottom = page.height - r.y1, page.height - r.y0
                            assert any(t.bbox[1] - 2 <= (top + bottom) / 2 <= t.bbox[3] + 2 for t in tables), (name, r)
                assert covered >= sum(len(row.split(" | ")) for row in p.text.split("\n")), (name, p.passage_id)
