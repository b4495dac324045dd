"""Fetch and convert the evaluation collections (``make eval-data``).

Each collection under ``eval/collections/<name>/`` commits its ``queries.jsonl``
and ``README.md``; this script generates the rest from a Debian package:

    source/   the downloaded .deb and its unpacked files (git-ignored)
    corpus/   the text files the assistant indexes, and metadata.json (git-ignored)

Collections:

* ``debian-faq`` (package ``debian-faq``, GPL): one text file per FAQ answer,
  converted from the package's HTML, WITHOUT the question heading, titled with
  the chapter's name. The queries are the FAQ's own questions and are written
  by this script too (gold: the answer's first paragraph, verbatim), so corpus
  and questions always come from the same package version.
* ``debian-reference`` (package ``debian-reference-en``, GPL): chapters of the
  Debian Reference, cut verbatim out of the hard-wrapped plain-text edition the
  package ships. Its questions were written by hand against version 2.100.
* ``r-manuals`` (package ``r-doc-pdf``, GPL): two of the R project's PDF manuals as
  the package ships them, untouched and without metadata (as a user would drop
  them in): the R FAQ (short answers) and "R Data Import/Export" (a formal
  manual). Its questions were written by hand against version 4.2.2.20221110-2;
  their gold quotes are checked against the text the assistant reads from the PDFs.

The script asks apt for the version recorded below first and takes the
candidate version when that one is gone; the version used is written to
``source/SOURCE.json``, and every gold quote is checked to be a verbatim
substring of its document. A collection whose SOURCE.json matches is left
alone, so re-running is cheap.

Usage: python scripts/eval_data.py [--force] [NAME ...]
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
COLLECTIONS = ROOT / "eval" / "collections"
FORMAT = 2  # bump when a conversion changes, so existing corpora are regenerated


class DataError(Exception):
    """A collection could not be fetched or converted."""


@dataclass(frozen=True)
class Package:
    name: str
    version: str  # the version the committed queries were made with


@dataclass(frozen=True)
class Doc:
    file: str
    doc_id: str
    title: str
    text: str


@dataclass(frozen=True)
class Query:
    qid: str
    query: str
    doc_id: str
    quotes: tuple[str, ...]  # alternatives, in document order
    tags: tuple[str, ...]


# --------------------------------------------------------------------------- fetching


def fetch_package(pkg: Package, dest: Path) -> tuple[Path, str]:
    """Download ``pkg`` with apt-get (the pinned version if apt still has it) and
    unpack it with dpkg -x into ``dest/root``. Returns (root, version)."""
    dest.mkdir(parents=True, exist_ok=True)
    for tool in ("apt-get", "dpkg-deb"):
        if shutil.which(tool) is None:
            raise DataError(f"{tool} not found: the evaluation collections come from Debian packages")
    debs = sorted(dest.glob(f"{pkg.name}_*.deb"))
    if not debs:
        with tempfile.TemporaryDirectory(dir=dest) as tmp:
            # The pinned version first; then whatever apt has; then, as root on a
            # machine whose package lists were never fetched (a fresh CI image), the
            # same after `apt-get update`.
            attempts = [(False, f"{pkg.name}={pkg.version}"), (False, pkg.name)]
            if hasattr(os, "geteuid") and os.geteuid() == 0:
                attempts += [(True, f"{pkg.name}={pkg.version}"), (False, pkg.name)]
            for update, spec in attempts:
                if update:
                    subprocess.run(["apt-get", "update", "-qq"], capture_output=True)
                r = subprocess.run(["apt-get", "download", "-q", spec], cwd=tmp, capture_output=True, text=True)
                got = sorted(Path(tmp).glob(f"{pkg.name}_*.deb"))
                if r.returncode == 0 and got:
                    shutil.move(str(got[0]), dest / got[0].name)
                    break
            else:
                raise DataError(
                    f"apt-get download {pkg.name} failed ({r.stderr.strip()[-300:]}); "
                    "run `apt-get update` and check that a Debian archive is reachable"
                )
        debs = sorted(dest.glob(f"{pkg.name}_*.deb"))
    deb = debs[-1]
    version = subprocess.run(
        ["dpkg-deb", "-f", str(deb), "Version"], capture_output=True, text=True, check=True
    ).stdout.strip()
    root = dest / "root"
    if root.exists():
        shutil.rmtree(root)
    subprocess.run(["dpkg-deb", "-x", str(deb), str(root)], check=True)
    return root, version


# --------------------------------------------------------------------------- Debian FAQ

FAQ = Package("debian-faq", "11.1")
_FAQ_HTML = "usr/share/doc/debian/FAQ"
_BLOCK = {"p", "div", "ul", "ol", "li", "dl", "dt", "dd", "pre", "table", "tr", "blockquote",
          "h1", "h2", "h3", "h4", "h5", "h6"}
_NUMBERED = re.compile(r"^(\d+(?:\.\d+)*)\.\s+(.*)$", re.S)


def _norm(s: str) -> str:
    return " ".join(s.split())


def _blocks(el) -> list[str]:
    """The paragraphs of an element, each one line; a ``pre`` keeps its lines."""
    out: list[str] = []
    buf: list[str] = []

    def flush() -> None:
        t = _norm("".join(buf))
        if t:
            out.append(t)
        buf.clear()

    if el.text:
        buf.append(el.text)
    for child in el:
        tag = child.tag if isinstance(child.tag, str) else ""
        cls = child.get("class", "")
        if tag in _BLOCK or tag == "":
            flush()
            if tag == "" or cls in ("section", "titlepage", "toc", "footnotes") or tag.startswith("h"):
                pass  # nested questions, headings (incl. a note's "Note"), comments
            elif tag == "pre":
                lines = [ln.rstrip() for ln in child.text_content().split("\n")]
                while lines and not lines[0].strip():
                    lines.pop(0)
                while lines and not lines[-1].strip():
                    lines.pop()
                if lines:
                    out.append("\n".join(lines))
            elif tag == "li":
                inner = _blocks(child)
                if inner:
                    out.append("* " + " ".join(" ".join(b.split()) for b in inner))
            else:
                out.extend(_blocks(child))
        elif tag == "a" and "xref" in cls:
            # A cross-reference names another question: keep only its number, so
            # that no passage carries a question's wording.
            m = _NUMBERED.match(_norm(child.get("title", "")))
            buf.append(f"Section {m.group(1)}" if m else child.text_content())
        elif tag == "sup" or "indexterm" in cls:
            pass  # footnote markers, index anchors
        else:
            buf.append(child.text_content())
        if child.tail:
            buf.append(child.tail)
    flush()
    return out


def convert_faq(root: Path) -> tuple[list[Doc], list[Query], dict[str, str]]:
    """The FAQ's answers (one document each, no question heading) and its questions."""
    import lxml.html

    html_dir = root / _FAQ_HTML
    pages = sorted(p for p in html_dir.glob("*.en.html") if not p.is_symlink() and p.name != "index.en.html")
    if not pages:
        raise DataError(f"no HTML pages in {html_dir}: has the package's layout changed?")
    info = lxml.html.parse(str(html_dir / "index.en.html")).getroot()
    book = {
        "version": _norm(" ".join(info.xpath('//*[@class="releaseinfo"]//text()'))),
        "date": _norm(" ".join(info.xpath('//*[@class="pubdate"]//text()'))),
    }
    docs: list[Doc] = []
    queries: list[Query] = []
    chapters = []
    for page in pages:
        tree = lxml.html.parse(str(page)).getroot()
        chapter = tree.xpath('//div[@class="chapter"]')
        if not chapter:
            continue
        head = _norm(chapter[0].xpath('./div[@class="titlepage"]//h1')[0].text_content())
        m = re.match(r"Chapter\s+(\d+)\.\s+(.*)", head)
        if not m:
            raise DataError(f"{page.name}: unexpected chapter heading {head!r}")
        chapters.append((int(m.group(1)), m.group(2), chapter[0]))
    for number, title, chapter in sorted(chapters, key=lambda c: c[0]):
        units = [(f"{number}", "", chapter)]  # the chapter's own introduction
        for sec in chapter.iter("div"):
            if sec.get("class") != "section":
                continue
            h = sec.xpath('./div[@class="titlepage"]//*[self::h2 or self::h3 or self::h4 or self::h5]')
            m = _NUMBERED.match(_norm(h[0].text_content())) if h else None
            if not m:
                raise DataError(f"chapter {number}: a section without a numbered heading")
            units.append((m.group(1), m.group(2), sec))
        for num, question, el in units:
            paragraphs = _blocks(el)
            if not paragraphs:
                continue  # a heading that only groups sub-questions
            parts = num.split(".")
            doc_id = "debian-faq-" + "-".join(parts) + ("-intro" if len(parts) == 1 else "")
            text = "\n\n".join(paragraphs) + "\n"
            docs.append(Doc(f"{doc_id}.txt", doc_id, title, text))
            if "?" in question:
                # The whole answer answers its question: each of its paragraphs is a
                # gold alternative (command listings aside: a quote is one line).
                quotes = tuple(dict.fromkeys(p for p in paragraphs if "\n" not in p))
                if not quotes:
                    continue  # an answer that is only a command listing
                tags = ["faq", f"chapter-{number}"]
                queries.append(Query(f"faq-{num}", _norm(question), doc_id, quotes, tuple(tags)))
    return docs, queries, book


# --------------------------------------------------------------------------- Debian Reference

REFERENCE = Package("debian-reference-en", "2.100")
_REF_TXT = "usr/share/debian-reference/debian-reference.en.txt.gz"
# Chapters kept: system initialisation, authentication, network set-up: formal
# text with some tables and listings, about 400 passages in all.
REFERENCE_CHAPTERS = (3, 4, 5)


def convert_reference(root: Path) -> tuple[list[Doc], dict[str, str]]:
    """Chapters of the plain-text Debian Reference, verbatim (hard-wrapped as shipped)."""
    path = root / _REF_TXT
    if not path.exists():
        raise DataError(f"{path} not found: has the package's layout changed?")
    text = gzip.decompress(path.read_bytes()).decode("utf-8")
    starts = [(int(m.group(1)), m.group(2).strip(), m.start())
              for m in re.finditer(r"^Chapter[ \xa0](\d+)\.[ \xa0](.+)$", text, re.M)]
    if not starts:
        raise DataError(f"{path}: no 'Chapter N. Title' lines")
    ends = [s for _, _, s in starts[1:]] + [_appendix_start(text, starts[-1][2])]
    docs = []
    for (number, title, start), end in zip(starts, ends):
        if number not in REFERENCE_CHAPTERS:
            continue
        body = text[start:end].rstrip() + "\n"
        doc_id = f"debian-reference-ch{number:02d}"
        docs.append(Doc(f"{doc_id}.txt", doc_id, f"Debian Reference, chapter {number}: {title}", body))
    version = re.search(r"Debian Reference \(version ([^)]+)\)", text)
    return docs, {"version": version.group(1) if version else ""}


def _appendix_start(text: str, after: int) -> int:
    m = re.search(r"^Appendix[ \xa0]A\.", text[after:], re.M)
    return after + m.start() if m else len(text)


# --------------------------------------------------------------------------- writing


def _staging(out: Path) -> Path:
    """An empty folder beside ``out`` to fill; :func:`_publish` puts it in ``out``'s place."""
    tmp = out.with_name(out.name + ".tmp")
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.mkdir(parents=True)
    return tmp


def _publish(tmp: Path, out: Path) -> None:
    if out.exists():
        shutil.rmtree(out)
    tmp.rename(out)


def write_corpus(out: Path, docs: list[Doc], *, meta_about: str, organization: str, date: str, kind: str) -> None:
    tmp = _staging(out)
    for d in docs:
        (tmp / d.file).write_text(d.text, encoding="utf-8", newline="")
    meta = {"_about": meta_about, "documents": [
        {"file": d.file, "doc_id": d.doc_id, "title": d.title, "organization": organization, "date": date, "kind": kind}
        for d in docs]}
    (tmp / "metadata.json").write_text(json.dumps(meta, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    _publish(tmp, out)


def write_queries(path: Path, queries: list[Query], *, extra: Path | None = None) -> None:
    """The queries as JSON lines, then the hand-written lines of ``extra`` (if it exists) as they are."""
    lines = [json.dumps({"id": q.qid, "query": q.query, "relevant": [{"doc": q.doc_id, "quote": t} for t in q.quotes],
                         "tags": list(q.tags)}, ensure_ascii=False) for q in queries]
    if extra is not None and extra.is_file():
        lines += [ln for ln in extra.read_text(encoding="utf-8").splitlines() if ln.strip()]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def check_quotes(queries_path: Path, corpus: Path) -> list[str]:
    """Problems with the gold quotes: unknown documents, quotes not verbatim in them
    (in a PDF's case, in the text the assistant reads from it)."""
    texts = {p.stem: p.read_text(encoding="utf-8") for p in corpus.glob("*.txt")}
    if any(corpus.glob("*.pdf")):
        from assistant.ingest.formats.pdf import read_pdf

        texts |= {p.stem: read_pdf(p.read_bytes()).text for p in corpus.glob("*.pdf")}
    problems = []
    for n, line in enumerate(queries_path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        item = json.loads(line)
        for g in item["relevant"]:
            if g["doc"] not in texts:
                problems.append(f"{queries_path.name}:{n} ({item['id']}): unknown document {g['doc']}")
            elif g["quote"] not in texts[g["doc"]]:
                problems.append(f"{queries_path.name}:{n} ({item['id']}): quote not in {g['doc']}: {g['quote'][:60]!r}")
    return problems


def _source_record(folder: Path, pkg: Package, version: str, extra: dict[str, str]) -> dict:
    return {"package": pkg.name, "version": version, "pinned_version": pkg.version, "format": FORMAT, **extra}


def _up_to_date(folder: Path, pkg: Package) -> bool:
    rec = folder / "source" / "SOURCE.json"
    try:
        data = json.loads(rec.read_text())
    except (OSError, ValueError):
        return False
    return data.get("package") == pkg.name and data.get("format") == FORMAT


def build_faq(folder: Path, *, force: bool) -> str:
    if not force and _up_to_date(folder, FAQ):
        return "up to date"
    root, version = fetch_package(FAQ, folder / "source")
    docs, queries, book = convert_faq(root)
    write_corpus(
        folder / "corpus", docs,
        meta_about=(f"Generated by scripts/eval_data.py from Debian package {FAQ.name} {version} "
                    "(GPL): one file per answer, without its question; title = the chapter's name."),
        organization="Debian", date=_iso_month(book.get("date", "")), kind="FAQ answer",
    )
    write_queries(folder / "queries.jsonl", queries, extra=folder / "unanswerable.jsonl")
    _write_source(folder, FAQ, version, {"faq_version": book.get("version", ""), "documents": str(len(docs)),
                                          "questions": str(len(queries))})
    return f"{len(docs)} answers, {len(queries)} questions from {FAQ.name} {version}"


def build_reference(folder: Path, *, force: bool) -> str:
    if not force and _up_to_date(folder, REFERENCE):
        return "up to date"
    root, version = fetch_package(REFERENCE, folder / "source")
    docs, info = convert_reference(root)
    write_corpus(
        folder / "corpus", docs,
        meta_about=(f"Generated by scripts/eval_data.py from Debian package {REFERENCE.name} {version} "
                    f"(GPL): chapters {', '.join(map(str, REFERENCE_CHAPTERS))} of the plain-text edition, verbatim."),
        organization="Debian", date="", kind="manual chapter",
    )
    _write_source(folder, REFERENCE, version, {"reference_version": info.get("version", ""),
                                                "documents": str(len(docs))})
    return f"{len(docs)} chapters from {REFERENCE.name} {version}"


R_MANUALS = Package("r-doc-pdf", "4.2.2.20221110-2")
_R_MANUAL_DIR = "usr/share/R/doc/manual"
R_MANUAL_FILES = ("R-FAQ.pdf", "R-data.pdf")


def build_r_manuals(folder: Path, *, force: bool) -> str:
    if not force and _up_to_date(folder, R_MANUALS):
        return "up to date"
    root, version = fetch_package(R_MANUALS, folder / "source")
    tmp = _staging(folder / "corpus")
    for name in R_MANUAL_FILES:
        src = root / _R_MANUAL_DIR / name
        if not src.is_file():
            raise DataError(f"{R_MANUALS.name} {version} has no {_R_MANUAL_DIR}/{name}")
        shutil.copyfile(src, tmp / name)
    _publish(tmp, folder / "corpus")
    _write_source(folder, R_MANUALS, version, {"documents": str(len(R_MANUAL_FILES))})
    return f"{len(R_MANUAL_FILES)} PDF manuals from {R_MANUALS.name} {version}"


def _write_source(folder: Path, pkg: Package, version: str, extra: dict[str, str]) -> None:
    rec = _source_record(folder, pkg, version, extra)
    (folder / "source" / "SOURCE.json").write_text(json.dumps(rec, indent=1) + "\n")


def _iso_month(date: str) -> str:
    m = re.match(r"([A-Za-z]+)\s+(\d{4})$", date.strip())
    months = "january february march april may june july august september october november december".split()
    if m and m.group(1).lower() in months:
        return f"{m.group(2)}-{months.index(m.group(1).lower()) + 1:02d}"
    return ""


BUILDERS = {"debian-faq": build_faq, "debian-reference": build_reference, "r-manuals": build_r_manuals}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("names", nargs="*", help=f"collections (default: all of {', '.join(BUILDERS)})")
    ap.add_argument("--force", action="store_true", help="download and convert again")
    args = ap.parse_args(argv)
    names = args.names or list(BUILDERS)
    unknown = [n for n in names if n not in BUILDERS]
    if unknown:
        print(f"error: unknown collection {unknown[0]!r}; choose from {', '.join(BUILDERS)}", file=sys.stderr)
        return 2
    failed = 0
    for name in names:
        folder = COLLECTIONS / name
        try:
            status = BUILDERS[name](folder, force=args.force)
        except (DataError, subprocess.CalledProcessError, OSError) as e:
            print(f"error: {name}: {e}", file=sys.stderr)
            failed += 1
            continue
        problems = check_quotes(folder / "queries.jsonl", folder / "corpus")
        for p in problems:
            print(f"error: {name}: {p}", file=sys.stderr)
        failed += bool(problems)
        print(f"{name}: {status}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
