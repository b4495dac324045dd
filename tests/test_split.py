"""assistant.ingest.split: what is a passage, and where exactly it lies in the source."""

from __future__ import annotations

import re

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from conftest import BOILERPLATE
from assistant.ingest.split import estimate_tokens, is_boilerplate, parse_date, sentence_spans, split_text



def passages(text: str, **kw) -> list[str]:
    return [text[s.start : s.end] for s in split_text(text, **kw)]


def squash(s: str) -> str:
    return " ".join(s.split())


# --- boilerplate ------------------------------------------------------------------


def test_site_chrome_never_appears_in_a_passage():
    page = """Skip to main content
Facebook Share
Home > Information > Releases

Prison conditions

Detainees are held in crowded cells without enough food or medical care. Many die within months of arrival.

Donate now
Your tax deductible gift can help stop human rights violations and save lives around the world.

Region / Country

View latest press releases

Subscribe to North Korea
"""
    got = passages(page)
    assert got == ["Detainees are held in crowded cells without enough food or medical care. Many die within months of arrival."]
    for line in BOILERPLATE + ["Donate now"]:
        assert all(line not in p for p in got), line


@pytest.mark.parametrize("line", BOILERPLATE + ["Donate now", "  Log in  ", "Main menu", "Share this page"])
def test_is_boilerplate(line):
    assert is_boilerplate(line)


@pytest.mark.parametrize(
    "line",
    [
        "Amnesty International said the court must release him.",
        "Human rights in North Korea",
        "Subscribers to the state newspaper were told to report their neighbours.",
    ],
)
def test_content_is_not_boilerplate(line):
    assert not is_boilerplate(line)


def test_table_of_contents_and_index_entries_are_not_passages():
    # as the R FAQ's PDF reads: entries with dot leaders, several to a line, then the text
    text = (
        "Table of Contents\n\n"
        "1    Introduction . . . . . . . . . . . . . . . . . . . . .      1 1.1    Legalese . . . . . . . . . . . .     1\n\n"
        "2.5    How can R be installed?. . . . . . . . . . . . . . . . . .4\n"
        "1.1    The R environment.............................................\n\n"
        "Concept index\n\nReading data from files . . . . . . . . . . . . . . . . .\n"
        "Recycling rule . . . . . . . . . . . . . . . .            9,\n\n"
        "1.1 Legalese\n\n"
        "R is free software and comes with ABSOLUTELY NO WARRANTY. You may wait... and wait.\n"
    )
    got = passages(text)
    assert got == ["R is free software and comes with ABSOLUTELY NO WARRANTY. You may wait... and wait."]
    assert not is_boilerplate("An ellipsis... or two.... is not a leader.")
    # the index's column of page numbers, left once its entries are gone
    assert passages("Recycling rule . . . . . . . . .\n21\n22, 23\n9, 45,\n\nR is free software.\n") == ["R is free software."]
    assert not is_boilerplate("In 2018, 52 organisations signed.") and not is_boilerplate("[1] 1 2 3")


def test_a_numbered_question_heading_is_the_section_of_its_answer_not_a_passage():
    text = (
        "2.1  What is R?\n\n"
        "R is a system for statistical computation and graphics. It consists of a language plus a run-time environment.\n\n"
        "7.14  What are valid names?\n\n"
        "Syntactic names are made of letters, digits, the dot and underscore.\n\n"
        "3.5 million people were displaced in 2018, the agency said.\n\n"
        "7.34  How can I save the result of each iteration in a loop\ninto a separate file?\n\n"
        "One way is to use paste() to build the file name.\n"
    )
    spans = split_text(text)
    got = [(text[s.start:s.end], s.section) for s in spans]
    assert got == [
        ("R is a system for statistical computation and graphics. It consists of a language plus a run-time environment.",
         "2.1 What is R?"),
        ("Syntactic names are made of letters, digits, the dot and underscore.", "7.14 What are valid names?"),
        ("3.5 million people were displaced in 2018, the agency said.", "7.14 What are valid names?"),
        ("One way is to use paste() to build the file name.",
         "7.34 How can I save the result of each iteration in a loop into a separate file?"),
    ]


def test_a_paragraph_mentioning_donations_is_kept():
    text = (
        "Food aid\n\n"
        "The World Food Programme said that food donations will help only if its monitors can verify "
        "where the food goes. It asked for access to all 212 counties.\n\n"
        "The government has not replied.\n"
    )
    got = passages(text)
    assert any("World Food Programme" in p for p in got), got


# --- hard-wrapped text ------------------------------------------------------------


def test_single_newline_wrapped_paragraphs_are_rejoined():
    text = """Food shortages

The people of the country have suffered from famine and acute food
shortages for more than a decade, and many millions more have suffered
from chronic malnutrition in the years since.

The government has failed in its duty to respect and protect the
right to food, and its actions have made the effects of the famine
worse than they needed to be.
"""
    got = passages(text)
    assert [squash(p) for p in got] == [
        "The people of the country have suffered from famine and acute food shortages for more than a decade, "
        "and many millions more have suffered from chronic malnutrition in the years since.",
        "The government has failed in its duty to respect and protect the right to food, and its actions have "
        "made the effects of the famine worse than they needed to be.",
    ]
    assert all(s.section == "Food shortages" for s in split_text(text))


def test_double_spaced_wrapped_paragraphs_are_rejoined_and_told_apart_by_the_wider_gap():
    # Like the 1997 release: a blank line after every wrapped line, two between paragraphs.
    text = (
        " The organization has long been concerned that people deemed to be \n\n"
        " opposed to the policies of the party may face detention. People who attempt \n\n"
        " to leave the country may also be imprisoned. \n\n"
        " \n\n"
        " North Korea has continually been unresponsive to international calls for \n\n"
        " dialogue. In August 1997, it took the decision to withdraw from the \n\n"
        " Covenant on Civil and Political Rights. \n"
    )
    got = passages(text)
    assert [squash(p) for p in got] == [
        "The organization has long been concerned that people deemed to be opposed to the policies of the party "
        "may face detention. People who attempt to leave the country may also be imprisoned.",
        "North Korea has continually been unresponsive to international calls for dialogue. In August 1997, it "
        "took the decision to withdraw from the Covenant on Civil and Political Rights.",
    ]


# --- headings, dates, lists, other scripts ------------------------------------------


def test_short_heading_lines_become_sections_and_are_not_passages():
    text = """Torture and ill-treatment

Reports suggest that torture and ill-treatment are widespread in prisons, labour camps, as well as in detention centres where people who have been returned are held.

Detainees returned from abroad are interrogated for long periods, during which torture and ill-treatment were reported to be widespread.

Freedom of expression

Opposition of any kind is not tolerated. Any person who expresses an opinion contrary to the position of the ruling party faces severe punishment.
"""
    spans = split_text(text)
    assert [(text[s.start : s.end][:20], s.section) for s in spans] == [
        ("Reports suggest that", "Torture and ill-treatment"),
        ("Detainees returned f", "Torture and ill-treatment"),
        ("Opposition of any ki", "Freedom of expression"),
    ]
    assert [s.paragraph for s in spans] == [1, 2, 3]
    assert not any("Freedom of expression" in text[s.start : s.end] for s in spans)


def test_a_page_of_short_paragraphs_is_not_taken_for_wrapped_text():
    text = """Torture and ill-treatment

Reports suggest that torture is widespread in prisons and labour camps.

Detainees returned from abroad are interrogated for long periods.

Freedom of expression

Opposition of any kind is not tolerated, and the media is strictly censored.
"""
    spans = split_text(text)
    assert [(text[s.start : s.end], s.section) for s in spans] == [
        ("Reports suggest that torture is widespread in prisons and labour camps.", "Torture and ill-treatment"),
        ("Detainees returned from abroad are interrogated for long periods.", "Torture and ill-treatment"),
        ("Opposition of any kind is not tolerated, and the media is strictly censored.", "Freedom of expression"),
    ]


def test_date_lines_date_the_items_of_a_news_listing():
    text = """News

    June 08, 2018

    The near total denial of human rights should not be ignored at the summit, the group said.

    Its researcher commented that millions are still denied their rights.

    April 29, 2016

    The government must disclose all details of the court case, the group said today.

    December 04, 2013
    New satellite images show the expansion of two political prison camps, the group disclosed today.
"""
    got = [(text[s.start : s.end][:20], s.date) for s in split_text(text)]
    assert got == [
        ("The near total denia", "2018-06-08"),
        ("Its researcher comme", "2018-06-08"),
        ("The government must ", "2016-04-29"),
        ("New satellite images", "2013-12-04"),
    ]
    assert all("2018" not in p and "2016" not in p for p in passages(text)[:3])  # date lines are not passages


@pytest.mark.parametrize(
    ("line", "iso"),
    [
        ("June 08, 2018", "2018-06-08"),
        ("8 June 2018", "2018-06-08"),
        ("Date : October 13, 2011", "2011-10-13"),
        ("Sept 5, 2014", "2014-09-05"),
        ("2013-12-04", "2013-12-04"),
        ("Posted: Dec. 4, 2013", "2013-12-04"),
        ("June 2018 was a hard month.", ""),
        ("The meeting on June 8, 2018 was postponed.", ""),
    ],
)
def test_parse_date(line, iso):
    assert parse_date(line) == iso


@pytest.mark.parametrize("line", ["February 30, 2018", "31 April 2016"])
def test_parse_date_rejects_impossible_dates(line):
    assert parse_date(line) == ""


def test_signatories_are_one_list_passage_with_their_lead_in():
    text = """Dear Minister,
We write on behalf of a coalition of organizations concerned about the conditions of detention in the prisons of your country, and ask you to allow independent monitors to visit them.
We look forward to your timely response on these important matters.
Yours sincerely,
  Advocates International Global Council
  Amnesty International
  Asia Justice and Rights
  Burma Partnership (Thailand)
  Freedom House (USA)
"""
    spans = split_text(text)
    lists = [s for s in spans if s.kind == "list"]
    assert len(lists) == 1
    got = text[lists[0].start : lists[0].end]
    assert got.startswith("Yours sincerely,\n")
    assert got.endswith("Freedom House (USA)")
    assert "Amnesty International\n  Asia Justice and Rights" in got
    # the letter's closing sentence is its own passage, not part of the list
    assert "We look forward to your timely response on these important matters." in passages(text)


def test_bullet_list_joins_its_lead_in_ending_with_colon():
    text = """The letter urges the government to:

  • Act on United Nations human rights recommendations;
  • End abuses in detention and prisons, including forced labor;
  • Accept international humanitarian aid with appropriate monitoring.

The letter was sent on Monday to the leader of the country.
"""
    spans = split_text(text)
    assert [s.kind for s in spans] == ["list", "paragraph"]
    first = text[spans[0].start : spans[0].end]
    assert first.startswith("The letter urges the government to:")
    assert first.endswith("Accept international humanitarian aid with appropriate monitoring.")
    assert first.count("•") == 3


def test_a_korean_caption_in_an_english_page_is_dropped():
    text = """Skip to main content
김정은 북방 국무 위원장이 조선 노동당 제7기 중앙위원회 제 3차 전원회의에 참석 한 모습.

(New York) – The government should immediately undertake meaningful reforms that will end the dire human rights situation, more than 300 groups said today.

The letter is signed by 52 organizations from Asia, Latin America, Africa and Europe.
"""
    got = passages(text)
    assert len(got) == 2
    assert not any(re.search(r"[\uac00-\ud7a3]", p) for p in got)
    assert got[0].startswith("(New York)")


def test_a_paragraph_longer_than_max_tokens_is_cut_at_sentence_ends():
    sentences = [f"Witness number {i} described the conditions of detention in the camp in some detail." for i in range(1, 30)]
    text = "Testimonies\n\n" + " ".join(sentences) + "\n"
    spans = split_text(text, max_tokens=60)
    parts = [text[s.start : s.end] for s in spans]
    assert len(parts) > 1
    assert all(estimate_tokens(p) <= 60 for p in parts)
    assert [s.part for s in spans] == list(range(1, len(parts) + 1))
    assert len({s.paragraph for s in spans}) == 1
    # every part is whole sentences, and together they are the paragraph
    assert all(p.startswith("Witness number") and p.endswith("detail.") for p in parts)
    assert " ".join(parts) == " ".join(sentences)


def test_cutting_uses_the_given_token_counter():
    text = "Alpha beta gamma. Delta epsilon zeta. Eta theta iota. Kappa lambda mu.\n"

    def words(s: str) -> int:
        return len(s.split())

    assert passages(text, max_tokens=6, count_tokens=words) == [
        "Alpha beta gamma. Delta epsilon zeta.",
        "Eta theta iota. Kappa lambda mu.",
    ]
    assert passages(text, max_tokens=100, count_tokens=words) == [text.strip()]


def test_sentence_spans_do_not_cut_after_abbreviations():
    text = "The U.S. citizen met Mr. Kim. He was sentenced to 10 years. Dr. Lee left."
    got = [text[a:b] for a, b in sentence_spans(text)]
    assert got == ["The U.S. citizen met Mr. Kim.", "He was sentenced to 10 years.", "Dr. Lee left."]


def test_empty_and_chrome_only_texts_have_no_passages():
    assert split_text("") == []
    assert split_text("\n\n   \n") == []
    assert split_text("Skip to main content\nFacebook Share\nRegion / Country\n") == []


# --- properties -------------------------------------------------------------------

_WORDS = (
    "the camp prisoners were held report said government food rights monitors families "
    "authorities court trial labour detention border China released café naïve Łódź Straße "
    "déjà Nguyễn 2018 120,000 U.N. — “quoted” … €5 🙂 x"
).split()
_CAP = "Amnesty Reports The Detainees Witnesses Émile Zoë Officials In According".split() + [
    "2.5 GB", "1.2.3 Fixed", "12.03.2019 The", "192.168.1.1 Is", "3.5 Million", "He paused.......... and"]
_FOREIGN = ["김정은 위원장이 평양에서 회의에 참석했다.", "Это подпись к фотографии.", "北朝鮮の人権状況について。"]
_CHROME = ["Skip to main content", "Facebook Share", "Region / Country", "View latest press releases", "Subscribe"]
_DATES = ["June 08, 2018", "8 June 2018", "Date : October 13, 2011", "2013-12-04"]

_word = st.sampled_from(_WORDS)
_indent = st.sampled_from(["", "", "", "  ", "    ", "\t", "\u00a0"])
_trail = st.sampled_from(["", "", " ", "  ", "\u00a0"])


@st.composite
def _sentence(draw) -> str:
    words = [draw(st.sampled_from(_CAP))] + draw(st.lists(_word, min_size=1, max_size=14))
    return " ".join(words) + draw(st.sampled_from([".", ".", ".", "?", "!", ";", ":", ",", ".”", ""]))


@st.composite
def _line(draw) -> str:
    kind = draw(st.sampled_from(["para", "para", "para", "heading", "bullet", "blank", "blank", "chrome", "date", "foreign", "lower",
                                 "numbers"]))
    if kind == "para":
        body = " ".join(draw(st.lists(_sentence(), min_size=1, max_size=5)))
    elif kind == "heading":
        body = " ".join([draw(st.sampled_from(_CAP))] + draw(st.lists(_word, max_size=5)))
    elif kind == "bullet":
        body = draw(st.sampled_from(["• ", "- ", "* ", "1. ", "2) ", "– "])) + draw(_sentence())
    elif kind == "chrome":
        body = draw(st.sampled_from(_CHROME))
    elif kind == "date":
        body = draw(st.sampled_from(_DATES))
    elif kind == "foreign":
        body = draw(st.sampled_from(_FOREIGN))
    elif kind == "numbers":  # a port, a year, a line of program output
        body = draw(st.sampled_from(["8080", "2019", "1 2 3", "450,  390,  467,", "21"]))
    elif kind == "lower":  # the wrapped continuation of a line above
        body = " ".join(draw(st.lists(_word, min_size=1, max_size=12))) + draw(st.sampled_from(["", ".", ","]))
    else:
        body = draw(st.sampled_from(["", "", " ", "\t"]))
        return body
    return draw(_indent) + body + draw(_trail)


_LONG_LINE = (
    "Former detainees told researchers that they had been held for months without charge, "
    "without a lawyer and without any contact with their families."
)


@st.composite
def pages(draw, *, long_line: bool = False) -> str:
    """Scraped-looking pages; with ``long_line`` one paragraph line is over 130
    characters, so the page cannot be mistaken for hard-wrapped text."""
    lines = draw(st.lists(_line(), min_size=0, max_size=30))
    if long_line:
        lines.insert(draw(st.integers(0, len(lines))), draw(_indent) + draw(_sentence()) + " " + _LONG_LINE)
    newline = draw(st.sampled_from(["\n", "\n", "\r\n"]))
    text = newline.join(lines)
    return text + draw(st.sampled_from(["", newline]))


def _mostly_other_script(line: str) -> bool:
    letters = [c for c in line if c.isalpha()]
    return bool(letters) and sum(c < "\u0250" for c in letters) / len(letters) < 0.5


def _sentence_like_lines(text: str) -> list[tuple[int, str]]:
    """(offset, stripped line) of every content line that ends with a full stop."""
    out = []
    pos = 0
    for raw in text.splitlines(keepends=True):
        stripped = raw.strip()
        # only the site chrome the pages are made with may vanish, not what a rule calls boilerplate
        if stripped.endswith(".") and stripped not in _CHROME and not _mostly_other_script(stripped):
            out.append((pos + raw.index(stripped), stripped))
        pos += len(raw)
    return out


_PROPERTY = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@_PROPERTY
@given(text=pages(), max_tokens=st.integers(min_value=15, max_value=200))
@example(text="", max_tokens=200)
@example(text="Heading\n\nOne sentence here.\r\nTwo sentence here.\r\n", max_tokens=200)
def test_spans_are_verbatim_ordered_and_disjoint(text, max_tokens):
    spans = split_text(text, max_tokens=max_tokens)
    prev_end = 0
    for s in spans:
        piece = text[s.start : s.end]
        assert 0 <= s.start < s.end <= len(text)
        assert piece == piece.strip() and piece
        assert s.start >= prev_end, "spans overlap or are out of order"
        prev_end = s.end
        assert s.kind in ("paragraph", "list")
    # paragraphs are numbered 1..n in order; part 0 means "the whole paragraph"
    paragraphs = [s.paragraph for s in spans]
    assert paragraphs == sorted(paragraphs)
    assert sorted(set(paragraphs)) == list(range(1, len(set(paragraphs)) + 1))
    for n in set(paragraphs):
        parts = [s.part for s in spans if s.paragraph == n]
        assert parts == ([0] if len(parts) == 1 else list(range(1, len(parts) + 1)))


@_PROPERTY
@given(text=pages(), max_tokens=st.integers(min_value=15, max_value=200))
def test_long_passages_are_cut_to_fit_unless_a_single_sentence(text, max_tokens):
    for s in split_text(text, max_tokens=max_tokens):
        if s.part:
            assert estimate_tokens(text[s.start : s.end]) <= max_tokens or len(sentence_spans(text, s.start, s.end)) == 1


def _assert_no_word_lost(text: str) -> None:
    spans = [(s.start, s.end) for s in split_text(text)]
    for offset, line in _sentence_like_lines(text):
        for m in re.finditer(r"\w+", line):
            a, b = offset + m.start(), offset + m.end()
            assert any(s <= a and b <= e for s, e in spans), f"{m.group()!r} of {line!r} is in no passage"


@_PROPERTY
@given(text=pages(long_line=True))
def test_no_word_of_a_sentence_line_is_lost(text):
    _assert_no_word_lost(text)


@_PROPERTY
@given(text=pages())
@example(text="Court ruling\n\nThe court upheld the sentence.\n\nHis lawyers will appeal\n\nSubscribe\n")
@example(text="Skip to main content\nCourt ruling\nThe court upheld the sentence.\nHis lawyers will appeal\n")
def test_no_word_of_a_sentence_line_is_lost_on_pages_of_short_lines(text):
    _assert_no_word_lost(text)


def test_a_list_under_a_letters_closing_is_the_signatories():
    text = ("Open letter\n\nWe urge you to release all prisoners now.\n"
            "Yours sincerely,\n  Group One (USA)\n  Group Two (Japan)\n  Group Three\n")
    spans = split_text(text)
    signed = [s for s in spans if "Group One" in text[s.start:s.end]]
    assert len(signed) == 1 and signed[0].section == "Signatories" and signed[0].kind == "list"
    other = [s for s in spans if "release all prisoners" in text[s.start:s.end]]
    assert other[0].section == "Open letter"
