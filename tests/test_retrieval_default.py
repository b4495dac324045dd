"""Retrieval on the default corpus with the real model: paraphrased questions must
rank the paragraph that answers them first.

The questions avoid the wording of the passage they expect; each expected
paragraph is named by a distinctive piece of its text.
"""

from __future__ import annotations

import pytest

from assistant.pipeline.service import Assistant

pytestmark = pytest.mark.model


def weak(reason: str):
    return pytest.mark.xfail(strict=False, reason=f"retrieval is weak here: {reason}")


CASES = [
    pytest.param(
        "Roughly how many detainees are thought to be locked up in the country's political camps?",
        "up to 120,000 held in prison camps",
        id="camp-population",
    ),
    pytest.param(
        "What sentence was handed to a US national accused of espionage in 2016?",
        "sentenced to 10 years’ hard labour",
        id="us-citizen-sentence",
    ),
    pytest.param(
        "What became of the young boy whose mother was arrested after fleeing across the Chinese border?",
        "Koo Jeong-hwa’s son was originally detained",
        id="detained-womans-son",
    ),
    pytest.param(
        "What did pictures taken from orbit reveal about two of the biggest camps?",
        # the item's next paragraph says what the images showed: it answers as well
        ("new satellite images showing the on-going development", "found new housing blocks"),
        id="satellite-images",
    ),
    pytest.param(
        "How much did the death rate of babies rise during the 1990s?",
        "infant mortality increased from 27 per thousand",
        id="infant-mortality",
    ),
    pytest.param(
        "Which human rights treaty did Pyongyang pull out of in 1997?",
        "withdraw from the International",
        id="covenant-withdrawal",
    ),
    pytest.param(
        "How did the security ministry describe citizens who leave the country without permission?",
        "physically remove despicable human scum",
        id="ministry-threat",
    ),
    pytest.param(
        "What commitments did Kim make in the spring 2018 peace declaration with the South?",
        "Kim pledged to improve inter-Korean relations",
        id="panmunjeom-pledges",
    ),
    pytest.param(
        "By what methods are prisoners put to death in front of crowds?",
        "Executions are carried out by hanging or firing-squad",
        id="execution-methods",
    ),
    pytest.param(
        "What happens to North Koreans caught phoning relatives who escaped abroad?",
        "caught using mobile phones to contact loved ones",
        id="phone-calls-abroad",
    ),
]

# Filled in from runs of the current ranking; each is a fair question whose answer
# the real model does not put first. strict=False: an improvement shows as XPASS.
WEAK = {
    "detained-womans-son": "the paragraph about the mother's arrest outranks the one about what became of her son",
}


def _cases():
    for case in CASES:
        yield pytest.param(*case.values, id=case.id, marks=[weak(WEAK[case.id])] if case.id in WEAK else [])


@pytest.fixture(scope="module")
def assistant(default_index, real_encoder) -> Assistant:
    return Assistant.open(default_index, encoder=real_encoder)


def _fragments(expected: str | tuple[str, ...]) -> tuple[str, ...]:
    return expected if isinstance(expected, tuple) else (expected,)


def test_the_questions_and_expected_passages_are_well_formed(assistant):
    # each expected paragraph exists exactly once, so "ranked first" is unambiguous
    for case in CASES:
        question, expected = case.values
        for fragment in _fragments(expected):
            holders = {p.passage_id for p in assistant.index.passages if fragment in p.text}
            assert len(holders) == 1, (case.id, fragment, holders)
            assert fragment.lower() not in question.lower()


@pytest.mark.parametrize(("question", "expected"), list(_cases()))
def test_the_answering_paragraph_is_ranked_first(assistant, question, expected):
    answer = assistant.ask(question, k=5)
    assert answer.quotes, "no hits at all"
    ranked = [q.text for q in answer.quotes]
    where = next((i for i, t in enumerate(ranked, 1) if any(f in t for f in _fragments(expected))), None)
    assert where == 1, f"expected paragraph at rank {where}; first was: {ranked[0][:120]!r}"


def test_the_sample_answer_cites_no_signatory_list(default_index) -> None:
    """The sample question of `make demo`: the ranking's fifth hit is the list of a letter's
    signatories; it is offered as related context, never numbered as a citation."""
    answer = Assistant.open(default_index).ask("What happens to North Koreans who are forcibly returned from China?")
    assert not answer.abstained and 1 <= len(answer.quotes) < 5
    assert all(q.citation.section != "Signatories" for q in answer.quotes)
    assert any(q.citation.section == "Signatories" for q in answer.related)
    assert len(answer.quotes) + len(answer.related) == 5  # k is the most quotes shown
