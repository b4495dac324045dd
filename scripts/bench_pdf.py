"""pypdf against pdfplumber on realistic PDFs made here: speed and text quality.

    .venv/bin/pip install pdfplumber==0.11.10   # only for this comparison; not a dependency
    .venv/bin/python scripts/bench_pdf.py [PAGES_PER_PDF]

Makes three reports from the default corpus's paragraphs (running header, "Page n of m"
footer, hyphenated line ends, headings), extracts each with both libraries, and prints
seconds a page and the share of the source's words found in order (difflib over words),
plus whether paragraph breaks can be recovered (pypdf gives lines only; pdfplumber gives
each line's position).
"""

from __future__ import annotations

import difflib
import re
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from docgen import make_pdf  # noqa: E402


def corpus_sections(min_words: int) -> list[tuple[str, list[str]]]:
    paras = []
    for f in sorted((ROOT / "corpus").glob("*.txt")):
        for block in re.split(r"\n\s*\n", f.read_text(encoding="utf-8")):
            text = " ".join(block.split())
            if len(text.split()) >= 25:
                paras.append(text)
    sections, words, n = [], 0, 0
    while words < min_words:
        chunk = paras[n % len(paras) : n % len(paras) + 4]
        sections.append((f"Section {len(sections) + 1}: findings", chunk))
        words += sum(len(p.split()) for p in chunk)
        n += 4
    return sections


def words_of(text: str) -> list[str]:
    return re.findall(r"\w+", text.lower())


def main() -> None:
    pages_wanted = int(sys.argv[1]) if len(sys.argv) > 1 else 30
    import pdfplumber
    import pypdf

    tmp = Path(tempfile.mkdtemp())
    rows = []
    for i in range(3):
        sections = corpus_sections(pages_wanted * 480)
        pdf = make_pdf(tmp / f"r{i}.pdf", sections, title=f"Report {i}", author="Org", header=f"Report {i} — Org")
        truth = words_of(" ".join(h + " " + " ".join(p) for h, p in sections))
        t = time.perf_counter()
        pages = [p.extract_text() for p in pypdf.PdfReader(pdf).pages]
        t_pypdf = time.perf_counter() - t
        t = time.perf_counter()
        with pdfplumber.open(pdf) as doc:
            plumb = [p.extract_text() for p in doc.pages]
        t_plumb = time.perf_counter() - t
        t = time.perf_counter()
        with pdfplumber.open(pdf) as doc:
            for p in doc.pages:
                p.extract_text_lines()
        t_lines = time.perf_counter() - t
        for name, texts, secs in (("pypdf", pages, t_pypdf), ("pdfplumber", plumb, t_plumb)):
            got = words_of(" ".join(texts))
            sm = difflib.SequenceMatcher(None, truth, got, autojunk=False)
            matched = sum(b.size for b in sm.get_matching_blocks())
            blank = sum(t.count("\n\n") for t in texts)
            rows.append((pdf.name, len(pages), name, secs / len(pages), matched / len(truth), blank))
        rows.append((pdf.name, len(pages), "pdfplumber lines", t_lines / len(pages), float("nan"), 0))
    print(f"{'file':8} {'pages':>5} {'library':18} {'s/page':>8} {'words in order':>15} {'blank lines':>11}")
    for r in rows:
        print(f"{r[0]:8} {r[1]:5d} {r[2]:18} {r[3]:8.4f} {r[4]:15.4f} {r[5]:11d}")
    sample = pypdf.PdfReader(tmp / "r0.pdf").pages[1].extract_text()
    print("\npypdf page 2 starts:", repr(sample[:300]))
    with pdfplumber.open(tmp / "r0.pdf") as doc:
        print("pdfplumber page 2 starts:", repr(doc.pages[1].extract_text()[:300]))


if __name__ == "__main__":
    main()
