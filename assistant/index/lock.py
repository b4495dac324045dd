"""Which folder an index path names, and the one writer lock of that folder.

Owns two rules of the write side of ``index/``:

* one index per real folder: an ``--index`` path is resolved (links followed)
  before anything is locked or swapped, so a linked index is changed where it
  really lies, the link stays a link, and two paths to one folder are one index;
* one writer per index: ``.NAME.lock`` beside the real folder, held with
  ``flock`` while a build, add or remove runs, and deleted when it ends
  (whether it succeeded or failed).

Deleting a lock file that others may be waiting on is safe here because a
writer that gets the lock checks that the file it locked is still the one at
the lock's path, and otherwise tries again on the new one.
"""

from __future__ import annotations

import errno
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from assistant.errors import CorpusError, IndexBusyError, IndexLoadError

POLL_SECONDS = 0.05


def index_folder(path: str | Path) -> Path:
    """The real, absolute folder an index path names (every link on the way resolved;
    the folder itself need not exist yet).

    Raises:
        IndexLoadError: the path is a link loop (or too many links deep).
    """
    given = Path(path).expanduser()
    try:
        return Path(os.path.realpath(given, strict=True))
    except FileNotFoundError:
        pass  # a new folder, or a link to a folder still to be made
    except OSError as e:
        if e.errno == errno.ELOOP:
            raise IndexLoadError(f"the index path {path} is a link loop (a link that leads back to itself); "
                                 "remove the link or point it at a folder") from None
    return Path(os.path.realpath(given))


def lock_path(folder: Path) -> Path:
    """Where the lock of the index ``folder`` (already resolved) lies."""
    folder = Path(folder)
    return folder.parent / f".{folder.name}.lock"


@contextmanager
def writer_lock(folder: str | Path, *, timeout: float) -> Iterator[None]:
    """Hold the lock of the index at ``folder`` (resolved here: every path to one
    folder gets the same lock); the lock file is removed on leaving.

    Raises:
        CorpusError: the folder beside which the lock goes cannot be written (at once).
        IndexBusyError: another writer still holds it after ``timeout`` seconds.
    """
    import fcntl

    out = index_folder(folder)
    path = lock_path(out)
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise CorpusError(f"cannot write the index at {out}: cannot make the folder {out.parent} "
                          f"({e.strerror or type(e).__name__})") from None
    deadline = time.monotonic() + timeout
    while True:
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        except OSError as e:
            raise CorpusError(f"cannot write the index at {out}: its folder {out.parent} cannot be written "
                              f"({e.strerror or type(e).__name__})") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as e:
            os.close(fd)
            if e.errno not in (errno.EAGAIN, errno.EACCES):
                raise CorpusError(f"cannot lock the index at {out} ({e.strerror or type(e).__name__})") from None
            if time.monotonic() >= deadline:
                raise IndexBusyError(
                    f"another build, add or remove is running on the index at {out}; "
                    "wait for it to finish, then run this again"
                ) from None
            time.sleep(POLL_SECONDS)
            continue
        if _same_file(fd, path):
            break
        os.close(fd)  # the holder we waited for removed that file: lock the current one
    try:
        yield
    finally:
        try:
            os.unlink(path)  # while still holding it: a waiter then sees its file is gone
        except OSError:
            pass
        os.close(fd)


def _same_file(fd: int, path: Path) -> bool:
    try:
        a, b = os.fstat(fd), os.stat(path)
    except OSError:
        return False
    return (a.st_dev, a.st_ino) == (b.st_dev, b.st_ino)
