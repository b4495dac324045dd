"""Shared fixtures: a tiny deterministic encoder, a small scraped corpus, and the
default corpus indexed once per session with the real packaged model."""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

import numpy as np
import pytest

TESTS_DIR = Path(__file__).resolve().parent
DEFAULT_CORPUS = TESTS_DIR.parent / "corpus"

_WORD = re.compile(r"\w+")
_PIECE = re.compile(r"\w+|[^\w\s]")


class TinyEncoder:
    """A hashed bag of lower-cased words in 64 dimensions, L2-normalised.

    Deterministic across processes (sha1, not ``hash``), so texts that share
    words get similar vectors and identical texts identical ones. Follows the
    ``Encoder`` protocol of :mod:`assistant.encoders.embed`.
    """

    name = "tiny-hash-64"
    dimension = 64
    max_tokens = 256

    def __init__(self) -> None:
        self.calls = 0

    def encode(self, texts: list[str], *, batch_size: int = 32, progress: bool = False) -> np.ndarray:
        self.calls += 1
        out = np.zeros((len(texts), self.dimension), dtype=np.float32)
        for row, text in enumerate(texts):
            for word in _WORD.findall(text.lower()):
                bucket = int.from_bytes(hashlib.sha1(word.encode()).digest()[:4], "little") % self.dimension
                out[row, bucket] += 1.0
            norm = float(np.linalg.norm(out[row]))
            if norm == 0.0:
                out[row, 0] = 1.0  # a text without words still gets a unit vector
            else:
                out[row] /= norm
        return out

    def encode_tokens(self, texts: list[str], *, batch_size: int = 32, progress: bool = False):
        """Each word is a token whose vector is the encoding of the word alone, so
        token matching with this encoder is exact word matching."""
        from assistant.encoders.embed import Tokens

        vectors = self.encode(texts, batch_size=batch_size, progress=progress)
        tokens = []
        for text in texts:
            found = list(_PIECE.finditer(text.lower()))
            if not found:
                tokens.append(Tokens(("[empty]",), self.encode(["[empty]"])))
                continue
            pieces = tuple(m.group() for m in found)
            tokens.append(Tokens(pieces, self.encode(list(pieces)), tuple(m.span() for m in found)))
        return vectors, tokens

    def count_tokens(self, text: str) -> int:
        return len(_PIECE.findall(text)) + 2  # + [CLS] and [SEP], like a word-piece model


@pytest.fixture
def tiny_encoder() -> TinyEncoder:
    return TinyEncoder()


# Three pages as a scraper saves them: site chrome around the article, a news
# listing with date lines, and an open letter with its signatories.
PAGES = {
    "press-release-detention.txt": """Skip to main content
Facebook Share
Home > News > Press releases

Prisoners held without trial

Hundreds of people are held without trial in a remote detention centre, according to former detainees who spoke to researchers this spring. They describe cells so crowded that detainees sleep in shifts.

Families are not told where their relatives are held, and lawyers are refused access to the centre.

Donate now
Your tax deductible gift can help stop human rights violations and save lives around the world.

Region / Country
View latest press releases
""",
    "news-listing.txt": """Main menu

Country news

    June 08, 2018

    The authorities released a journalist who had been held for reporting on a drought in the northern provinces, the organization said.

    March 19, 2016

    A court sentenced two farmers to hard labour for selling rice at a private market, in what appears to be a politically motivated decision.

    December 04, 2013

    New satellite images show the expansion of a labour camp near the coast, with new guard towers and housing blocks.

Subscribe to Country news
""",
    "open-letter.txt": """Home > Information > Releases

Date : October 13, 2011
Letter to the Minister of Justice

Dear Minister,
We write on behalf of a coalition of organizations concerned about the conditions of detention in the prisons of your country, and we ask you to allow independent monitors to visit every prison without notice.
We also urge your government to abolish the death penalty and to publish the number of executions carried out each year, so that the public can judge the justice system for itself.
Yours sincerely,
  Coalition for Prison Reform
  Lawyers for Justice (Canada)
  Friends of the Detained (Japan)
  Open Doors Monitoring Network
""",
}

METADATA = {
    "documents": [
        {
            "file": "press-release-detention.txt",
            "doc_id": "pr-detention",
            "title": "Prisoners held without trial",
            "organization": "Rights Watchers",
            "date": "2019-05-02",
            "kind": "press release",
        },
        {
            "file": "news-listing.txt",
            "doc_id": "news",
            "title": "Country news, 2013-2018",
            "organization": "Rights Watchers",
            "date": "2013-12-04/2018-06-08",
            "kind": "news listing",
        },
    ]
}


def write_corpus(folder: Path, pages: dict[str, str] = PAGES, metadata: dict | None = METADATA) -> Path:
    """Write ``pages`` (and ``metadata.json`` if given) into ``folder``; returns ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in pages.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text(text, encoding="utf-8", newline="")
    if metadata is not None:
        (folder / "metadata.json").write_text(json.dumps(metadata, indent=2), encoding="utf-8")
    return folder


@pytest.fixture
def small_corpus(tmp_path: Path) -> Path:
    """A folder of three scraped pages (two with metadata) in this test's tmp_path."""
    return write_corpus(tmp_path / "corpus")


@pytest.fixture(scope="session")
def real_encoder():
    """The packaged all-MiniLM-L6-v2, loaded once (offline) for every model test."""
    from assistant.encoders.embed import DEFAULT_MODEL, SentenceTransformerEncoder

    return SentenceTransformerEncoder(DEFAULT_MODEL)


@pytest.fixture(scope="session")
def default_index(tmp_path_factory: pytest.TempPathFactory, real_encoder) -> Path:
    """The default corpus built with the real model into a session tmp folder.

    Tests must not modify it: copy it first (``shutil.copytree``) to damage it.
    """
    from assistant.pipeline.build import build_index

    out = tmp_path_factory.mktemp("default-index") / "index"
    build_index(DEFAULT_CORPUS, encoder=real_encoder, out_dir=out)
    return out


# Lines of site chrome seen in scraped pages: never part of a passage.
BOILERPLATE = [
    "Skip to main content",
    "Facebook Share",
    "Subscribe to North Korea",
    "Region / Country",
    "View latest press releases",
    "Your tax deductible gift can help stop human rights violations and save lives around the world.",
    "Home > Information > Releases",
]


# A corpus whose text holds markup that must be shown literally (web chat tests).
SCRIPT = '<script>alert("x")</script>'
BOLD = "<b>bold</b>"
LINK = "[click](http://example.com)"

DOCS = {
    "markup.txt": f"""Markup in a report

Some reports quote web pages verbatim. One page contained {SCRIPT} inside its text, and another {BOLD} tags, and a link written as {LINK} in Markdown.

Prison camps hold political prisoners who are forced to work long hours with little food, according to former detainees.

Food shortages have left many children malnourished, and aid agencies say rations fall short in rural provinces.
""",
    "camps.txt": """Prison camps

Former prisoners describe beatings and forced labour in the camps, where whole families are detained for the crimes of one relative.

Public executions are held in market squares to deter crimes such as stealing food, witnesses say.

Those forcibly returned from China are interrogated and often sent to labour camps.
""",
    "letter.txt": """Letter on executions

We urge the government to end public executions, which are held in market squares, and to let monitors visit the prisons.

Yours sincerely,
  Coalition for Prison Reform
  Lawyers for Justice (Canada)
""",
}
MARKUP_METADATA = {
    "documents": [
        {"file": "markup.txt", "doc_id": "markup", "title": "Markup <i>in</i> a report",
         "organization": "Test & Co", "date": "2015-03-01", "kind": "report"},
        {"file": "camps.txt", "doc_id": "camps", "title": "Prison camps", "organization": "Watchers",
         "date": "2012", "kind": "report"},
        {"file": "letter.txt", "doc_id": "letter", "title": "Letter on executions",
         "organization": "Coalition for Prison Reform", "date": "2011-10-13", "kind": "open letter"},
    ]
}


def write_markup_corpus(folder: Path) -> Path:
    folder.mkdir(parents=True)
    for name, text in DOCS.items():
        (folder / name).write_text(text, encoding="utf-8")
    (folder / "metadata.json").write_text(json.dumps(MARKUP_METADATA), encoding="utf-8")
    return folder
