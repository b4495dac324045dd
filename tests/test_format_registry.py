"""assistant.ingest.formats: the registry of file formats is the one list every part reads.

Each registered format's suffixes are read by a build, accepted as uploads and named in
``build --help``, so a new format cannot be forgotten in one of them; a format's magic
bytes lead to its reader whatever the file is called; and a format given to the
dispatcher (a toy one, declared here without touching the package) is read like the
built-in ones.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from assistant.cli.main import main
from assistant.errors import SkipFile
from assistant.ingest.corpus import SUFFIXES as CORPUS_SUFFIXES
from assistant.ingest.corpus import discover
from assistant.ingest.formats import FORMATS, NOT_DOCUMENTS, SUFFIXES, Extracted, Format, format_for, read_file, sniff
from assistant.web.uploads import ALLOWED_SUFFIXES, UploadError, UploadSettings, safe_name

EVERY_SUFFIX = [(f.name, s) for f in FORMATS for s in f.suffixes]


def test_the_registry_is_well_formed():
    names = [f.name for f in FORMATS]
    assert len(set(names)) == len(names)
    assert len(set(SUFFIXES)) == len(SUFFIXES), "a suffix claimed by two formats"
    for f in FORMATS:
        assert f.suffixes and all(s.startswith(".") and s == s.lower() for s in f.suffixes), f.name
        if f.binary:  # a file named like it but without its magic needs a reason
            assert f.damaged and f.looks_like is None, f.name
        else:
            assert not f.claims and not f.magic_within, f.name
    assert sum(not f.binary and f.looks_like is None for f in FORMATS) == 1, "one text format reads any text"


@pytest.mark.parametrize("name, suffix", EVERY_SUFFIX)
def test_every_suffix_is_read_by_a_build(name, suffix, tmp_path):
    for upper in (False, True):
        path = tmp_path / (f"doc-{upper}" + (suffix.upper() if upper else suffix))
        path.write_text("Some text.\n")
        found, skipped = discover(tmp_path)
        assert path in found and not any(s.path == str(path) for s in skipped)
        assert format_for(path).name == name
    assert suffix in CORPUS_SUFFIXES


@pytest.mark.parametrize("name, suffix", EVERY_SUFFIX)
def test_every_suffix_is_accepted_as_an_upload(name, suffix, tmp_path):
    assert safe_name(f"report{suffix}") == f"report{suffix}"
    assert safe_name(f"Report{suffix.upper()}") == f"Report{suffix}"
    assert suffix in UploadSettings(folder=tmp_path).suffixes
    assert set(ALLOWED_SUFFIXES) == set(SUFFIXES)  # and nothing a build would not read
    with pytest.raises(UploadError, match="not an allowed type"):
        safe_name("report.toy")


def test_build_help_names_every_suffix(capsys):
    with pytest.raises(SystemExit) as e:
        main(["build", "--help"])
    assert e.value.code == 0
    words = set(capsys.readouterr().out.split())
    assert not [s for s in SUFFIXES if s not in words]


@pytest.mark.parametrize("fmt", [f for f in FORMATS if f.binary], ids=lambda f: f.name)
def test_magic_bytes_lead_to_the_format_whatever_the_name(fmt):
    raw = fmt.magic[0] + b"\n word/document.xml " + b"x" * 64  # (what a Word package holds)
    for suffix in ("", ".txt", *fmt.suffixes):
        assert sniff(raw, suffix) is fmt
    assert sniff(b"plain words\n", ".txt") is None


@pytest.mark.parametrize("magic, reason", NOT_DOCUMENTS)
def test_files_that_are_no_document_are_refused_by_their_first_bytes(magic, reason):
    with pytest.raises(SkipFile) as e:
        read_file(Path("notes.txt"), magic + b"\0\0rest of the file")
    assert str(e.value) == reason


# A format declared outside the package: a binary one with its own magic, and a text one
# recognised by its first line. The dispatcher reads both as it reads the built-in ones.
def _read_toy(raw: bytes, *, budget) -> Extracted:
    return Extracted(raw[len(b"TOY1"):].decode(), title="toy")


def _read_csv(text: str, *, budget) -> Extracted:
    return Extracted(text.replace(",", " | "), title="table")


TOY = Format(name="toy", suffixes=(".toy",), read=_read_toy, magic=(b"TOY1",), damaged="damaged toy file")
CSV = Format(name="csv", suffixes=(".csv",), read=_read_csv, looks_like=lambda t: t.startswith("id,"))
WITH_TOYS = FORMATS + (TOY, CSV)


def test_a_new_format_is_one_declaration():
    assert read_file(Path("a.toy"), b"TOY1hello", formats=WITH_TOYS) == Extracted("hello", title="toy")
    assert read_file(Path("a.txt"), b"TOY1hello", formats=WITH_TOYS).title == "toy"  # by its magic
    with pytest.raises(SkipFile, match="damaged toy file"):
        read_file(Path("a.toy"), b"hello", formats=WITH_TOYS)
    assert read_file(Path("t.csv"), b"a,b\n1,2\n", formats=WITH_TOYS).text == "a | b\n1 | 2\n"
    assert read_file(Path("t.txt"), b"id,b\n1,2\n", formats=WITH_TOYS).title == "table"  # by its text
    assert read_file(Path("t.txt"), b"a,b\n", formats=WITH_TOYS) == Extracted("a,b\n")  # plain text
    assert format_for("x.CSV", formats=WITH_TOYS) is CSV and format_for("x.csv") is None
    # without the declaration, the same bytes are plain text
    assert read_file(Path("a.toy"), b"TOY1hello") == Extracted("TOY1hello")
