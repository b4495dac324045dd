"""Uploads from the web chat: names, types and sizes checked; files stored without overwriting; added and removed.

Real files in tmp_path; the index is built with the conftest's tiny encoder and
changed with the real :mod:`assistant.pipeline.build` functions.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from assistant.web.uploads import ALLOWED_SUFFIXES, UploadError, UploadSettings, safe_name, store


@pytest.mark.parametrize(
    "name, expected",
    [("report.pdf", "report.pdf"), ("Report 2014 (final).DOCX", "Report 2014 (final).docx"),
     ("notes.md", "notes.md"), ("page.htm", "page.htm"), ("a<b>|c?.txt", "a_b_c_.txt"),
     ("x" * 300 + ".html", "x" * 115 + ".html")],
)
def test_safe_name_keeps_a_plain_name(name, expected):
    assert safe_name(name) == expected


@pytest.mark.parametrize(
    "name, reason",
    [("../../etc/passwd.txt", "folder part"), ("..\\..\\win.txt", "folder part"), ("/etc/x.txt", "folder part"),
     ("..", "folder part"), ("", "folder part"), (".bashrc.txt", "hidden"), ("run.sh", "not an allowed type"),
     ("image.png", "not an allowed type"), ("noext", "not an allowed type"), ("x.pdf.exe", "not an allowed type")],
)
def test_safe_name_refuses_folders_hidden_files_and_other_types(name, reason):
    with pytest.raises(UploadError, match=reason):
        safe_name(name)


def test_store_never_overwrites_and_refuses_what_it_must(tmp_path: Path):
    settings = UploadSettings(folder=tmp_path / "corpus" / "uploads", max_bytes=1_000)
    received = tmp_path / "received"
    received.mkdir()
    (received / "a").write_text("first text", encoding="utf-8")
    (received / "b").write_text("second text", encoding="utf-8")
    (received / "big").write_bytes(b"x" * 1_001)
    (received / "empty").write_bytes(b"")
    stored, refused = store(
        [(received / "a", "notes.txt"), (received / "b", "notes.txt"), (received / "big", "big.txt"),
         (received / "a", "../../outside.txt"), (received / "a", "tool.exe"), (received / "empty", "empty.md")],
        settings=settings,
    )
    assert [s.path.name for s in stored] == ["notes.txt", "notes (2).txt"]
    assert (settings.folder / "notes.txt").read_text() == "first text"
    assert (settings.folder / "notes (2).txt").read_text() == "second text"
    assert [r.name for r in refused] == ["big.txt", "../../outside.txt", "tool.exe", "empty.md"]
    assert "the limit is 0.001 MB a file" in refused[0].reason
    assert not (tmp_path / "outside.txt").exists() and not (tmp_path / "corpus" / "outside.txt").exists()
    assert sorted(p.name for p in settings.folder.iterdir()) == ["notes (2).txt", "notes.txt"]
    assert set(ALLOWED_SUFFIXES) >= {".txt", ".md", ".pdf", ".html", ".htm", ".docx"}
