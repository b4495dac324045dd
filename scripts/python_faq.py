"""A scratch evaluation collection of short answers: the Python FAQ (Debian package
``python3.11-doc``), one file per answer WITHOUT its question, and the FAQ's own 117
questions with the answer's paragraphs as gold. Not in ``eval/collections.json`` (CI
does not run it); used to cross-check choices made on the Debian FAQ (README,
"Abstaining": the refusal quantile).

    .venv/bin/python scripts/python_faq.py OUT
    .venv/bin/assistant build --corpus OUT/corpus --index OUT/index
    .venv/bin/assistant eval --index OUT/index --queries OUT/queries.jsonl --mode hybrid,dense,tokens,keyword
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from eval_data import Package, fetch_package  # noqa: E402

PACKAGE = Package("python3.11-doc", "3.11.2-6+deb12u9")


def _norm(s: str) -> str:
    return " ".join(s.split())


def convert(html_root: Path, out: Path) -> int:
    import lxml.html

    corpus = out / "corpus"
    corpus.mkdir(parents=True, exist_ok=True)
    docs, queries = [], []
    for page in sorted(html_root.glob("*.html")):
        if page.name == "index.html":
            continue
        tree = lxml.html.parse(str(page))
        title = _norm(tree.xpath("//h1")[0].text_content()).rstrip("¶")
        for sec in tree.xpath("//section[h3 or h4]"):
            question = _norm(sec.xpath("./h3|./h4")[0].text_content()).rstrip("¶").strip()
            if not question.endswith("?"):
                continue
            blocks = []
            for child in sec:
                if child.tag in ("h3", "h4", "section"):
                    continue
                if child.tag == "div" and "highlight" in (child.get("class") or ""):
                    code = child.text_content().strip("\n")  # code keeps its lines
                    if code.strip():
                        blocks.append(code)
                    continue
                text = _norm(child.text_content())
                if text:
                    blocks.append(text)
            if not blocks:
                continue
            doc_id = f"pyfaq-{page.stem}-{len(docs) + 1:03d}"
            (corpus / f"{doc_id}.txt").write_text("\n\n".join(blocks) + "\n", encoding="utf-8")
            docs.append({"file": f"{doc_id}.txt", "doc_id": doc_id, "title": f"Python FAQ: {title}",
                         "organization": "Python Software Foundation", "date": "2023-02", "kind": "FAQ answer"})
            gold = [{"doc": doc_id, "quote": b.strip().split("\n")[0]} for b in blocks if b.strip()]
            queries.append({"id": doc_id, "query": question, "relevant": gold, "tags": ["faq", page.stem]})
    (corpus / "metadata.json").write_text(json.dumps({"documents": docs}, indent=1, ensure_ascii=False) + "\n")
    (out / "queries.jsonl").write_text("".join(json.dumps(q, ensure_ascii=False) + "\n" for q in queries))
    return len(docs)


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print(__doc__, file=sys.stderr)
        return 2
    out = Path(argv[0])
    root, version = fetch_package(PACKAGE, out / "source")
    n = convert(root / "usr/share/doc/python3.11/html/faq", out)
    print(f"python-faq: {n} answers and questions from {PACKAGE.name} {version} in {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
