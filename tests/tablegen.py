"""PDFs with tables, drawn with reportlab, for the tests and scripts/bench_tables.py.

The five layouts of issue 25 (a ruled grid, a table without ruling lines, a two-column
page with a table in one column, a 60-row table over two pages, a table beside running
text) and the bad input (a page that is one 1,000-row table, merged cells, an empty
table, a scanned table). Each maker writes ``path`` and returns it.
"""

from __future__ import annotations

from pathlib import Path

PROSE = ("Witnesses described the events in detail to the researchers, who checked each account against "
         "at least one other source before it was recorded in the database. ")
EXECUTIONS = [["Province", "2015", "2016", "2017", "2018", "2019"],
              ["Ryanggang", "12", "9", "14", "7", "5"],
              ["North Hamgyong", "21", "18", "11", "9", "6"],
              ["South Pyongan", "4", "6", "3", "2", "1"]]
EXECUTIONS_TITLE = "Public executions recorded by province, 2015-2019"
RATIONS = [["Month", "Ration (g)"], ["January", "550"], ["February", "480"], ["March", "400"], ["April", "350"]]
DETAINED_HEADER = ["No.", "Name", "Detained", "Charge"]
DETAINED_CAPTION = "Table 2: People detained in 2018, with the date and the charge."
CASES = [["Year", "Cases"], ["2016", "31"], ["2017", "28"], ["2018", "19"]]
MERGED = [["Camp", "Population", ""], ["", "1990", "2010"], ["Yodok", "30,000", "35,000"], ["Hwasong", "", "20,000"]]


def detained(n: int = 60) -> list[list[str]]:
    """A header and ``n`` rows of detained people: number, name, date, charge."""
    return [DETAINED_HEADER] + [[str(i), f"Person {i:03d}", f"2018-{1 + i % 12:02d}-{1 + i % 28:02d}",
                                 ["espionage", "smuggling", "religion"][i % 3]] for i in range(1, n + 1)]


def styles():
    """reportlab's sample styles and a grid table style."""
    from reportlab.lib import colors
    from reportlab.lib.styles import getSampleStyleSheet
    from reportlab.platypus import TableStyle

    return getSampleStyleSheet(), TableStyle([("GRID", (0, 0), (-1, -1), 0.5, colors.black)])


def simple(path: Path, flowables, **kwargs) -> Path:
    from reportlab.lib.pagesizes import A4
    from reportlab.platypus import SimpleDocTemplate

    SimpleDocTemplate(str(path), pagesize=kwargs.pop("pagesize", A4), **kwargs).build(flowables)
    return path


def two_frames(path: Path, left_width: float, flowables) -> Path:
    from reportlab.lib.pagesizes import A4
    from reportlab.platypus import BaseDocTemplate, Frame, PageTemplate

    w, h = A4
    doc = BaseDocTemplate(str(path), pagesize=A4)
    doc.addPageTemplates([PageTemplate(frames=[Frame(40, 40, left_width, h - 80, id="l"),
                                               Frame(60 + left_width, 40, w - 100 - left_width, h - 80, id="r")])])
    doc.build(flowables)
    return path


def grid(path: Path) -> Path:
    """The issue's table: executions by province (rows) and year (columns), ruled, with a caption."""
    from reportlab.platypus import Paragraph, Spacer, Table

    st, rule = styles()
    return simple(path, [Paragraph(EXECUTIONS_TITLE, st["Title"]), Paragraph(PROSE, st["Normal"]), Spacer(1, 12),
                         Table(EXECUTIONS, style=rule), Spacer(1, 12),
                         Paragraph("Table 1: public executions by province and year.", st["Normal"])])


def unruled(path: Path) -> Path:
    """The same table without lines, its year columns far apart (pypdf reads it as two columns of text)."""
    from reportlab.platypus import Paragraph, Spacer, Table

    st, _ = styles()
    return simple(path, [Paragraph(EXECUTIONS_TITLE, st["Title"]), Table(EXECUTIONS, colWidths=[120, 40, 40, 90, 40, 40]),
                         Spacer(1, 12), Paragraph("Source: interviews, 2016-2020.", st["Normal"])])


def two_column(path: Path) -> Path:
    """Two columns of text; the right one holds a table between two paragraphs."""
    from reportlab.platypus import FrameBreak, Paragraph, Spacer, Table

    st, rule = styles()
    return two_frames(path, 247, [Paragraph("Ration levels in 2019", st["Title"])]
                      + [Paragraph("Left column. " + PROSE * 2, st["Normal"])] * 3
                      + [FrameBreak(), Paragraph("Right column. " + PROSE, st["Normal"]), Spacer(1, 8),
                         Table(RATIONS, style=rule), Spacer(1, 8), Paragraph("After the table. " + PROSE, st["Normal"])])


def long_table(path: Path, n: int = 60) -> Path:
    """A table of ``n`` detained people over two pages under its caption, its header row repeated on the second."""
    from reportlab.platypus import Paragraph, Table

    st, rule = styles()
    return simple(path, [Paragraph("Detained people with dates and charges", st["Title"]), Paragraph(PROSE, st["Normal"]),
                         Paragraph(DETAINED_CAPTION, st["Normal"]), Table(detained(n), style=rule, repeatRows=1),
                         Paragraph(PROSE, st["Normal"])])


def beside_text(path: Path) -> Path:
    """Running text in a wide left column, a small table alone in the right one."""
    from reportlab.platypus import FrameBreak, Paragraph, Table

    st, rule = styles()
    return two_frames(path, 330, [Paragraph("Running text", st["Heading1"])] + [Paragraph(PROSE * 3, st["Normal"])] * 3
                      + [FrameBreak(), Table(CASES, style=rule)])


def huge_table_page(path: Path, rows: int = 1000) -> Path:
    """One page that is one ruled table of ``rows`` rows (the page is made tall enough)."""
    from reportlab.lib.pagesizes import A4
    from reportlab.platypus import Table

    _, rule = styles()
    huge = [["Row", "Value", "Note"]] + [[str(i), str(i * 7), "checked"] for i in range(rows)]
    return simple(path, [Table(huge, style=rule)], pagesize=(A4[0], (rows + 3) * 18 + 100), topMargin=20,
                  bottomMargin=20)


def merged_cells(path: Path) -> Path:
    """A header cell across two columns and a row label down two rows."""
    from reportlab.platypus import Paragraph, Table, TableStyle

    st, rule = styles()
    style = TableStyle(list(rule.getCommands()) + [("SPAN", (1, 0), (2, 0)), ("SPAN", (0, 0), (0, 1))])
    return simple(path, [Paragraph("Camps", st["Title"]), Paragraph(PROSE, st["Normal"]), Table(MERGED, style=style),
                         Paragraph(PROSE, st["Normal"])])


def empty_table(path: Path) -> Path:
    """Ruled cells with no text between two paragraphs."""
    from reportlab.platypus import Paragraph, Table

    st, rule = styles()
    return simple(path, [Paragraph("Nothing recorded", st["Title"]), Paragraph(PROSE, st["Normal"]),
                         Table([["", ""], ["", ""], ["", ""]], colWidths=[80, 80], style=rule),
                         Paragraph(PROSE, st["Normal"])])


def scanned_table(path: Path) -> Path:
    """An image of a table's rows, no text layer (OCR reads it as text)."""
    from docgen import make_scanned_pdf

    return make_scanned_pdf(path, ["Province   2016   2017", "Ryanggang   9   14", "North Hamgyong   18   11",
                                   "South Pyongan   6   3"])


LAYOUTS = {"grid": grid, "unruled": unruled, "two_column": two_column, "long_table": long_table,
           "beside_text": beside_text}
BAD = {"huge": huge_table_page, "merged": merged_cells, "empty": empty_table, "scanned": scanned_table}
