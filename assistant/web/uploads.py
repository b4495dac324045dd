"""Documents added to the served collection from the web chat, and removed from it.

Owns what an upload must pass before it touches the collection: an allowed
file type, a size limit, and a safe name (no folder part, no hidden file, no
overwriting: a taken name gets " (2)", " (3)", ...). Accepted files are
staged in a hidden folder inside the upload folder (a build passes hidden
folders over), read there, and only a file that was read successfully enters
the upload folder (inside the corpus folder, so a later ``build`` keeps it) and
is added to the index with :func:`assistant.pipeline.build.add_documents`; the served
index is then reloaded, so they are searchable at once. A refused or failed
upload leaves nothing behind, so it can never make the index look changed. Writers are
serialised by the index's own lock; this module adds no locking of its own.

Uploads are off unless ``assistant serve --allow-uploads`` turns them on: a
shared server must not let every visitor change the collection.
"""

from __future__ import annotations

import os
import re
import shutil
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from assistant.errors import AssistantError
from assistant.ingest.formats import SUFFIXES

ALLOWED_SUFFIXES = SUFFIXES  # what a build reads (assistant.ingest.formats), and nothing else
DEFAULT_MAX_MB = 50
MAX_NAME = 120  # characters of a stored file name
STAGING = ".staging"  # inside the upload folder: hidden, so a build never reads what is staged
_UNSAFE = re.compile(r"[^\w\-. ()]+")


class UploadError(AssistantError):
    """An uploaded file is refused (type, size or name)."""


@dataclass(frozen=True)
class UploadSettings:
    """Where uploads go and what is accepted."""

    folder: Path  # the upload folder (created when the first file arrives)
    max_bytes: int = DEFAULT_MAX_MB * 1_000_000
    suffixes: tuple[str, ...] = ALLOWED_SUFFIXES


@dataclass(frozen=True)
class Stored:
    name: str  # as given by the uploader
    path: Path  # where it was stored


@dataclass(frozen=True)
class Refused:
    name: str
    reason: str


def safe_name(name: str, *, suffixes: Sequence[str] = ALLOWED_SUFFIXES) -> str:
    """The file name an upload is stored under.

    Characters other than letters, digits, ``-_. ()`` and spaces become ``_``;
    the name is cut to MAX_NAME characters, keeping its suffix.

    Raises:
        UploadError: the name has a folder part (``/``, ``\\``, ``..``), is
            hidden or empty, or its type is not allowed.
    """
    name = unicodedata.normalize("NFC", str(name or "")).strip()
    if not name or "/" in name or "\\" in name or "\x00" in name or name in (".", ".."):
        raise UploadError(f"the file name {name[:80]!r} has a folder part or is empty; upload the file itself")
    if name.startswith("."):
        raise UploadError(f"the file name {name[:80]!r} starts with a dot (a hidden file)")
    stem, dot, suffix = name.rpartition(".")
    suffix = "." + suffix.lower() if dot else ""
    if suffix not in suffixes:
        raise UploadError(
            f"{name[:80]} is not an allowed type ({suffix or 'no suffix'}); allowed: {', '.join(suffixes)}"
        )
    stem = _UNSAFE.sub("_", stem).strip(" .") or "upload"
    return stem[: MAX_NAME - len(suffix)] + suffix


def store(
    files: Sequence[tuple[str | Path, str]], *, settings: UploadSettings, folder: Path | None = None,
) -> tuple[list[Stored], list[Refused]]:
    """Copy accepted uploads into ``folder`` (default: the upload folder); say why each other one is refused.

    Args:
        files: (path of the received temporary file, the name the uploader gave it).
        settings: the upload folder, size limit and allowed types.
        folder: where to copy them (the staging folder, while they are read).
    """
    stored: list[Stored] = []
    refused: list[Refused] = []
    for temp, given in files:
        shown = str(given)[:80]
        try:
            name = safe_name(given, suffixes=settings.suffixes)
            size = os.stat(temp).st_size
            if size > settings.max_bytes:
                raise UploadError(
                    f"{shown} is {size / 1e6:.1f} MB; the limit is {settings.max_bytes / 1e6:g} MB a file"
                )
            if size == 0:
                raise UploadError(f"{shown} is empty")
            stored.append(Stored(str(given), _copy_new(Path(temp), folder or settings.folder, name)))
        except UploadError as e:
            refused.append(Refused(shown, str(e)))
        except OSError as e:
            refused.append(Refused(shown, f"{shown} could not be stored ({e.strerror or type(e).__name__})"))
    return stored, refused


def staging_folder(settings: UploadSettings) -> Path:
    return settings.folder / STAGING


def clear_staging(settings: UploadSettings) -> None:
    """Delete what an interrupted upload left staged (a server stopped while reading a file)."""
    shutil.rmtree(staging_folder(settings), ignore_errors=True)


def admit(staged: Path, *, settings: UploadSettings, max_file_bytes: int) -> Path:
    """Read a staged upload as a build would; when it reads, move it into the upload folder.

    Returns its path in the upload folder (a free name: never overwrites).

    Raises:
        UploadError: the file cannot be read (the reason says why); it is deleted.
    """
    from assistant.index.sources import read_one

    try:
        got = read_one(staged, corpus_dir=None, max_file_bytes=max_file_bytes)
        if not hasattr(got, "doc_id"):  # Skipped
            raise UploadError(f"{staged.name}: {got.reason}")
        return _move_new(staged, settings.folder, staged.name)
    finally:
        staged.unlink(missing_ok=True)


def _move_new(src: Path, folder: Path, name: str) -> Path:
    """Move ``src`` to a name not yet taken in ``folder`` (a hard link, so nothing is overwritten)."""
    folder.mkdir(parents=True, exist_ok=True)
    stem, suffix = os.path.splitext(name)
    for n in range(1, 10_000):
        target = folder / (name if n == 1 else f"{stem} ({n}){suffix}")
        try:
            os.link(src, target)
        except FileExistsError:
            continue
        except OSError:  # no hard links here: copy, still refusing to overwrite
            return _copy_new(src, folder, name)
        src.unlink(missing_ok=True)
        return target
    raise UploadError(f"too many files named {name} already")


def _copy_new(src: Path, folder: Path, name: str) -> Path:
    """Copy ``src`` to a name not yet taken in ``folder`` (created exclusively: never overwrites)."""
    folder.mkdir(parents=True, exist_ok=True)
    stem, suffix = os.path.splitext(name)
    for n in range(1, 10_000):
        target = folder / (name if n == 1 else f"{stem} ({n}){suffix}")
        try:
            with open(target, "xb") as out, open(src, "rb") as data:
                shutil.copyfileobj(data, out)
        except FileExistsError:
            continue
        except BaseException:
            target.unlink(missing_ok=True)
            raise
        return target
    raise UploadError(f"too many files named {name} already")


@dataclass
class LiveCollection:
    """The served index, changed in place: add uploads, remove documents, reload.

    ``reload`` is called with the index folder after every change, so the chat
    answers from the new version at once.
    """

    index_dir: Path
    settings: UploadSettings
    encoder: Callable[[], object]  # makes the passage encoder (loaded on the first change)
    reload: Callable[[], None]
    _encoder: object = None

    def _passage_encoder(self):
        if self._encoder is None:
            self._encoder = self.encoder()
        return self._encoder

    def add(self, files: Sequence[tuple[str | Path, str]], *, progress: Callable[[float, str], None] = lambda f, s: None):
        """Store and index uploads; returns (added document ids, refusals as messages).

        Raises:
            AssistantError: nothing could be added (every file refused or unreadable).
        """
        from assistant.pipeline.build import add_documents

        progress(0.05, "Checking the files")
        staging = staging_folder(self.settings)
        staged, refused = store(files, settings=self.settings, folder=staging)
        messages = [r.reason for r in refused]
        admitted: list[Path] = []
        try:
            progress(0.1, "Reading the files")
            max_file_bytes = self._max_file_bytes()
            for s in staged:
                try:
                    admitted.append(admit(s.path, settings=self.settings, max_file_bytes=max_file_bytes))
                except UploadError as e:
                    messages.append(str(e))
        except BaseException:
            for path in admitted:  # an error or an interruption: nothing of this upload is kept
                path.unlink(missing_ok=True)
            raise
        finally:
            for s in staged:  # whatever was not admitted (an error, an interruption) is not kept
                s.path.unlink(missing_ok=True)
            _remove_if_empty(staging)
        if not admitted:
            raise UploadError("; ".join(messages) or "no file was uploaded")
        progress(0.3, f"Indexing {len(admitted)} file" + ("" if len(admitted) == 1 else "s"))
        try:
            report = add_documents(self.index_dir, admitted, encoder=self._passage_encoder())
        except BaseException:
            for path in admitted:  # not indexed: not kept
                path.unlink(missing_ok=True)
            raise
        for s in report.skipped:
            messages.append(f"{Path(s.path).name}: {s.reason}")
            Path(s.path).unlink(missing_ok=True) if _inside(Path(s.path), self.settings.folder) else None
        progress(0.9, "Loading the new index")
        self.reload()
        return tuple(report.added) + tuple(report.updated), tuple(messages)

    def _max_file_bytes(self) -> int:
        """The served index's per-file limit (``build --max-file-mb``): reading an upload is bounded as a build's."""
        from assistant.ingest.corpus import DEFAULT_MAX_FILE_BYTES
        from assistant.index.sources import load as load_files

        try:
            return load_files(self.index_dir).max_file_bytes
        except (OSError, ValueError, KeyError, TypeError):
            return DEFAULT_MAX_FILE_BYTES

    def remove(self, doc_ids: Sequence[str], *, paths: dict[str, str]) -> tuple[str, ...]:
        """Remove documents from the index (and their files, when they were uploaded here).

        Args:
            doc_ids: the documents to remove.
            paths: doc id -> the document's file, as the served index knows it.
        """
        from assistant.pipeline.build import remove_documents

        report = remove_documents(self.index_dir, list(doc_ids), encoder=self._passage_encoder())
        for d in doc_ids:
            path = Path(paths.get(d, ""))
            if paths.get(d) and _inside(path, self.settings.folder):
                path.unlink(missing_ok=True)
        self.reload()
        return tuple(report.removed)


def _remove_if_empty(folder: Path) -> None:
    try:
        folder.rmdir()
    except OSError:
        pass


def _inside(path: Path, folder: Path) -> bool:
    try:
        return folder.resolve() in path.resolve().parents
    except OSError:
        return False
