"""Write a folder of realistic mixed documents for trying and timing `assistant build`.

    .venv/bin/python scripts/make_sample_docs.py OUT_FOLDER

Four multi-page PDFs (10, 20, 30 and 40 pages: running header, "Page n of m" footer,
hyphenated line ends, PDF metadata), one scanned PDF (an image page, read by OCR when
Tesseract is installed), four Word files, four saved web pages with site chrome, and
four text files (one Latin-1). The text is the default corpus's paragraphs, shuffled
differently for each file. Then:

    time .venv/bin/assistant build --corpus OUT_FOLDER --index OUT_FOLDER-index
"""

from __future__ import annotations

import datetime
import random
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from docgen import make_docx, make_html, make_pdf, make_scanned_pdf  # noqa: E402


def paragraphs() -> list[str]:
    out = []
    for f in sorted((ROOT / "corpus").glob("*.txt")):
        for block in re.split(r"\n\s*\n", f.read_text(encoding="utf-8")):
            text = " ".join(block.split())
            if len(text.split()) >= 25:
                out.append(text)
    return out


def sections(rng: random.Random, words: int) -> list[tuple[str, list[str]]]:
    pool = paragraphs()
    out: list[tuple[str, list[str]]] = []
    total = 0
    while total < words:
        chunk = rng.sample(pool, 4)
        out.append((f"{len(out) + 1}. {rng.choice(['Findings', 'Background', 'Testimony', 'Recommendations'])}", chunk))
        total += sum(len(p.split()) for p in chunk)
    return out


def main() -> None:
    out = Path(sys.argv[1] if len(sys.argv) > 1 else "sample-docs")
    out.mkdir(parents=True, exist_ok=True)
    rng = random.Random(7)
    for i, pages in enumerate((10, 20, 30, 40), 1):
        make_pdf(
            out / f"report-{i}.pdf", sections(rng, pages * 470), title=f"Annual report {2014 + i}",
            author="Rights Watchers", date=datetime.date(2014 + i, 3, 1), header=f"Annual report {2014 + i} | Rights Watchers",
        )
    make_scanned_pdf(out / "scanned-letter.pdf", [
        "Open letter to the Minister of Justice", "", "We write to ask for the release of the",
        "prisoners held without trial since March.", "Their families have had no news of them.",
    ])
    for i in range(1, 5):
        make_docx(
            out / f"memo-{i}.docx", sections(rng, 1500), title=f"Briefing memo {i}", author="Docs Org",
            date=datetime.datetime(2020, i, 1), bullets=["Release the prisoners", "Allow monitors in"],
            table=[["Year", "Cases"], ["2019", str(10 + i)], ["2020", str(20 + i)]],
        )
    for i in range(1, 5):
        secs = sections(rng, 900)
        html = make_html(secs, title=f"News story {i}", site="Rights Watchers", date=f"2021-0{i}-15")
        (out / f"story-{i}.html").write_text(html, encoding="utf-8")
    for i in range(1, 4):
        secs = sections(rng, 700)
        text = "\n\n".join(h + "\n\n" + "\n\n".join(ps) for h, ps in secs) + "\n"
        (out / f"notes-{i}.txt").write_text(text, encoding="utf-8")
    latin = "Café owners in the capital were detained without trial, relatives said.\n\n" + "\n\n".join(
        p for p in rng.sample(paragraphs(), 6)
    )
    (out / "latin1-notes.txt").write_bytes(latin.encode("latin-1", errors="replace"))
    print(f"wrote {len(list(out.iterdir()))} files to {out}")


if __name__ == "__main__":
    main()
