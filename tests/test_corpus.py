"""assistant.ingest.corpus: reading a folder into documents and passages with stable ids."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from assistant.ingest.corpus import fingerprint, passages_of, read_corpus
from assistant.errors import CorpusError
from conftest import BOILERPLATE, DEFAULT_CORPUS, PAGES, write_corpus



def all_passages(corpus) -> list:
    return [p for d in corpus.documents for p in passages_of(d)]


def by_id(corpus) -> dict:
    return {d.doc_id: d for d in corpus.documents}


# --- reading a folder ---------------------------------------------------------------


def test_metadata_supplies_ids_titles_organisations_and_dates(small_corpus):
    corpus = read_corpus(small_corpus)
    assert corpus.skipped == ()
    docs = by_id(corpus)
    assert set(docs) == {"pr-detention", "news", "open-letter"}
    pr = docs["pr-detention"]
    assert (pr.title, pr.organization, pr.date, pr.kind) == (
        "Prisoners held without trial",
        "Rights Watchers",
        "2019-05-02",
        "press release",
    )
    assert pr.source == "corpus/press-release-detention.txt"
    assert Path(pr.path) == (small_corpus / "press-release-detention.txt").resolve()
    assert pr.text == PAGES["press-release-detention.txt"]


def test_a_file_without_metadata_gets_its_id_from_the_name_and_title_from_its_first_heading(small_corpus):
    letter = by_id(read_corpus(small_corpus))["open-letter"]
    # the breadcrumb and the date line above the heading are not titles
    assert letter.title == "Letter to the Minister of Justice"
    assert (letter.organization, letter.date, letter.kind) == ("", "", "")


def test_passages_take_the_document_date_unless_it_is_a_range(small_corpus):
    docs = by_id(read_corpus(small_corpus))
    assert {p.date for p in passages_of(docs["pr-detention"])} == {"2019-05-02"}
    # a listing's range is not a passage's date: each item carries its own date line
    assert [p.date for p in passages_of(docs["news"])] == ["2018-06-08", "2016-03-19", "2013-12-04"]
    # no metadata, but the page's own "Date : October 13, 2011" line
    assert {p.date for p in passages_of(docs["open-letter"])} == {"2011-10-13"}


def test_binary_damaged_and_empty_files_are_skipped_with_reasons_and_latin1_is_decoded(small_corpus):
    (small_corpus / "photo.txt").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00")
    (small_corpus / "latin1.txt").write_bytes("Caf\u00e9 owners in the capital were detained without trial.\n".encode("latin-1"))
    (small_corpus / "report.pdf").write_bytes(b"%PDF-1.4\n")
    (small_corpus / "blank.txt").write_text("  \n\n", encoding="utf-8")
    (small_corpus / ".DS_Store").write_bytes(b"\x00\x01")
    corpus = read_corpus(small_corpus)
    assert {d.doc_id for d in corpus.documents} == {"pr-detention", "news", "open-letter", "latin1"}
    assert by_id(corpus)["latin1"].text == "Caf\u00e9 owners in the capital were detained without trial.\n"
    reasons = {Path(s.path).name: s.reason for s in corpus.skipped}
    assert set(reasons) == {"photo.txt", "report.pdf", "blank.txt"}
    assert "binary" in reasons["photo.txt"] and "PNG image" in reasons["photo.txt"]
    assert "damaged PDF" in reasons["report.pdf"]
    assert "empty" in reasons["blank.txt"]


def test_files_in_subfolders_are_read_with_their_relative_path(tmp_path):
    root = write_corpus(tmp_path / "docs", {"2014/un-vote.txt": PAGES["news-listing.txt"]}, metadata=None)
    (doc,) = read_corpus(root).documents
    assert doc.doc_id == "2014-un-vote"
    assert doc.source == "docs/2014/un-vote.txt"


def test_an_empty_folder_is_a_clear_error(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(CorpusError, match=r"no readable documents in .*empty"):
        read_corpus(tmp_path / "empty")


def test_a_folder_of_unreadable_files_names_them(tmp_path):
    root = tmp_path / "bad"
    root.mkdir()
    (root / "scan.txt").write_bytes(b"\x00\x01\x02")
    with pytest.raises(CorpusError, match=r"no readable documents.*scan\.txt: binary"):
        read_corpus(root)


def test_a_missing_folder_is_a_clear_error(tmp_path):
    with pytest.raises(CorpusError, match=r"corpus folder not found: .*nowhere"):
        read_corpus(tmp_path / "nowhere")


def test_invalid_metadata_is_a_clear_error(small_corpus):
    (small_corpus / "metadata.json").write_text('{"documents": [{"title": "no file key"}]}')
    with pytest.raises(CorpusError, match="metadata.json: not a valid metadata file"):
        read_corpus(small_corpus)


def test_null_metadata_values_mean_unknown(small_corpus):
    meta = {"documents": [{"file": "open-letter.txt", "title": None, "organization": None, "date": None}]}
    (small_corpus / "metadata.json").write_text(json.dumps(meta), encoding="utf-8")
    letter = by_id(read_corpus(small_corpus))["open-letter"]
    assert (letter.title, letter.organization, letter.date) == ("Letter to the Minister of Justice", "", "")


def test_two_files_with_one_document_id_are_refused(tmp_path):
    # "a b.txt" and "a-b.txt" both become "a-b"
    root = write_corpus(tmp_path / "c", {"a b.txt": PAGES["news-listing.txt"], "a-b.txt": PAGES["open-letter.txt"]}, None)
    with pytest.raises(CorpusError, match="'a-b'"):
        read_corpus(root)


def test_offsets_of_a_file_with_a_byte_order_mark_index_the_file(tmp_path):
    root = tmp_path / "c"
    root.mkdir()
    raw = "\ufeffPrison conditions\n\nDetainees sleep in shifts because the cells are so crowded.\n".encode("utf-8")
    (root / "bom.txt").write_bytes(raw)
    (doc,) = read_corpus(root).documents
    (p,) = passages_of(doc)
    assert raw.decode("utf-8")[p.start : p.end] == p.text


# --- passage ids --------------------------------------------------------------------


def test_passage_ids_come_from_the_document_and_paragraph(small_corpus):
    corpus = read_corpus(small_corpus)
    ids = [p.passage_id for p in all_passages(corpus)]
    assert len(ids) == len(set(ids))
    for p in all_passages(corpus):
        assert p.passage_id == f"{p.doc_id}#p{p.paragraph}" + (f".{p.part}" if p.part else "")
    assert [p.passage_id for p in passages_of(by_id(corpus)["news"])] == ["news#p1", "news#p2", "news#p3"]


def test_passage_ids_are_stable_across_reads(small_corpus):
    first = [(p.passage_id, p.text) for p in all_passages(read_corpus(small_corpus))]
    second = [(p.passage_id, p.text) for p in all_passages(read_corpus(small_corpus))]
    assert first == second


def test_passage_ids_do_not_depend_on_offsets_or_on_later_paragraphs(small_corpus):
    before = {p.passage_id: p for p in passages_of(by_id(read_corpus(small_corpus))["pr-detention"])}
    page = small_corpus / "press-release-detention.txt"
    text = page.read_text(encoding="utf-8")
    # more chrome at the top shifts every offset; a new paragraph is added at the end
    text = "Main menu\nPrint\n" + text + "\nThe centre was closed in 2020 after an inquiry by the ombudsman.\n"
    page.write_text(text, encoding="utf-8")
    after = {p.passage_id: p for p in passages_of(by_id(read_corpus(small_corpus))["pr-detention"])}
    assert set(before) < set(after)
    for pid, p in before.items():
        assert after[pid].text == p.text
        assert after[pid].start > p.start


def test_pieces_of_a_long_paragraph_have_numbered_ids(tmp_path):
    long = " ".join(f"Witness {i} said the guards beat detainees who failed to meet their quota." for i in range(40))
    root = write_corpus(tmp_path / "c", {"testimony.txt": "Testimonies\n\n" + long + "\n"}, None)
    (doc,) = read_corpus(root).documents
    ids = [p.passage_id for p in passages_of(doc, max_tokens=80)]
    assert len(ids) > 2
    assert ids == [f"testimony#p1.{i}" for i in range(1, len(ids) + 1)]


def test_fingerprint_changes_with_any_file_and_only_then(small_corpus):
    fp = fingerprint(read_corpus(small_corpus).documents)
    assert fp == fingerprint(reversed(read_corpus(small_corpus).documents))
    page = small_corpus / "news-listing.txt"
    page.write_text(page.read_text(encoding="utf-8").replace("two farmers", "three farmers"), encoding="utf-8")
    assert fingerprint(read_corpus(small_corpus).documents) != fp


# --- the default corpus (no model needed) --------------------------------------------


@pytest.fixture(scope="module")
def default_corpus():
    return read_corpus(DEFAULT_CORPUS)


def test_the_default_corpus_reads_all_five_documents(default_corpus):
    assert default_corpus.skipped == ()
    meta = json.loads((DEFAULT_CORPUS / "metadata.json").read_text(encoding="utf-8"))["documents"]
    assert {d.doc_id for d in default_corpus.documents} == {m["doc_id"] for m in meta}


def test_every_default_passage_slices_exactly_from_its_file(default_corpus):
    checked = 0
    for doc in default_corpus.documents:
        source = Path(doc.path).read_bytes().decode("utf-8")
        assert Path(doc.path).parent == DEFAULT_CORPUS.resolve()
        for p in passages_of(doc):
            assert source[p.start : p.end] == p.text
            assert p.text and p.text == p.text.strip()
            checked += 1
    assert checked > 50


def test_no_default_passage_contains_site_chrome_or_korean(default_corpus):
    for p in all_passages(default_corpus):
        for line in BOILERPLATE:
            assert line not in p.text, (p.passage_id, line)
        assert not re.search(r"[\uac00-\ud7a3]", p.text), p.passage_id


def test_photo_captions_of_the_news_listing_are_not_passages(default_corpus):
    texts = [p.text for p in passages_of(by_id(default_corpus)["ai-2013-2018-north-korea-news"])]
    for caption in ("North Korean Cheerleaders dressed in matching red outfits", "Red Velvet perform in Pyongyang"):
        assert not any(caption in t for t in texts), caption


def test_the_news_listing_passages_carry_their_items_dates(default_corpus):
    news = passages_of(by_id(default_corpus)["ai-2013-2018-north-korea-news"])
    dates = [p.date for p in news]
    assert all(re.fullmatch(r"\d{4}-\d{2}-\d{2}", d) for d in dates)
    assert min(dates) == "2013-06-21" and max(dates) == "2018-06-08"
    assert {d[:4] for d in dates} == {"2013", "2014", "2015", "2016", "2018"}
    assert dates == sorted(dates, reverse=True)  # the listing runs newest first

    def date_of(fragment: str) -> str:
        (p,) = [p for p in news if fragment in p.text]
        return p.date

    assert date_of("Koo Jeong-hwa, who was detained") == "2018-04-09"
    assert date_of("Kim Dong-chul") == "2016-04-29"
    assert date_of("new satellite images") == "2013-12-04"
    assert date_of("Nobody should be detained") == "2013-06-21"


def test_the_icnk_signatories_are_in_list_passages(default_corpus):
    doc = by_id(default_corpus)["icnk-2011-letter-to-kim-jong-il"]
    letter = passages_of(doc)
    assert all(p.date == "2011-10-13" for p in letter)
    # the signatories follow the lead-in "Yours sincerely," to the end of the page
    signatories = [ln.strip() for ln in doc.text.split("Yours sincerely,", 1)[1].splitlines() if ln.strip()]
    assert len(signatories) == 41
    assert {"Amnesty International", "Kontras (Indonesia)", "Tomoharu Ebihara"} <= set(signatories)
    (closing,) = [p for p in letter if p.text.startswith("Yours sincerely,")]
    block = [p for p in letter if p.paragraph == closing.paragraph]
    assert all(p.kind == "list" for p in block)
    for name in signatories:
        assert any(name in (ln.strip() for ln in p.text.splitlines()) for p in block), name
    # the letter's last sentence stays its own passage
    assert any(p.text == "We look forward to your timely response on these important matters." for p in letter)


def test_the_hard_wrapped_1997_release_is_rejoined(default_corpus):
    release = passages_of(by_id(default_corpus)["ai-1997-kim-jong-il-reforms"])
    first = " ".join(release[0].text.split())
    assert first.startswith("Today’s formal accession of Kim Jong Il")
    assert "Korean Workers’ Party (KWP) of the Democratic People’s Republic of Korea" in first
    assert first.endswith("Amnesty International said today.")
    assert len(release) == 6
    assert not any(p.text.strip() == "reforms" for p in release)  # the wrapped end of the headline
