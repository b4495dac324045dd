"""Answers: duplicates merged with both citations, the JSON of a citation, highlights inside quotes."""

from __future__ import annotations

from pathlib import Path

from assistant.answer.terminal import to_text
from assistant.answer.json_format import to_json
from assistant.pipeline.build import build_index
from assistant.index.folder import load_index
from assistant.search.searcher import Searcher
from assistant.pipeline.service import Assistant

STATEMENT = ("A key UN vote has sent a clear message to the North Korean government that those responsible "
             "for crimes against humanity must face justice, Amnesty International said.")


def test_a_statement_published_twice_is_one_quote_with_both_citations(tmp_path: Path, tiny_encoder) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "march.txt").write_text(f"March 2014\n\n{STATEMENT}\n\nFood shortages continue in the north.\n")
    (corpus / "november.txt").write_text(f"November 2014\n\n{STATEMENT}\n\nPrison camps hold many people.\n")
    build_index(corpus, encoder=tiny_encoder, out_dir=tmp_path / "index")
    index = load_index(tmp_path / "index")
    assistant = Assistant(index, tiny_encoder, Searcher(index, tiny_encoder))
    answer = assistant.ask("UN vote clear message crimes against humanity justice", k=4, mode="dense")
    first = answer.quotes[0]
    assert len(first.also_in) == 1
    assert {first.citation.doc_id, first.also_in[0].doc_id} == {"march", "november"}
    out = to_json(answer)
    hit = out["hits"][0]
    (other,) = hit["also_in"]
    # the same fields as the hit's own citation, and no key Gradio would take for a file
    assert set(other) == {k for k in hit if k not in ("rank", "score", "similarity", "text", "highlights", "also_in", "strength", "signals", "echoes")}
    assert "path" not in other and "path" not in hit
    source = Path(other["source_path"]).read_text(encoding="utf-8")
    assert source[other["start"]:other["end"]] == STATEMENT
    for a, b in hit["highlights"]:
        assert hit["start"] <= a < b <= hit["end"]
    assert "also published as" in to_text(answer)



def test_a_declined_answer_marks_no_sentence_in_the_terminal(tmp_path: Path, tiny_encoder) -> None:
    import dataclasses

    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "march.txt").write_text(f"March 2014\n\n{STATEMENT} Food shortages continue in the north.\n")
    build_index(corpus, encoder=tiny_encoder, out_dir=tmp_path / "index")
    index = load_index(tmp_path / "index")
    assistant = Assistant(index, tiny_encoder, Searcher(index, tiny_encoder))
    answered = assistant.ask("UN vote crimes against humanity", k=1)
    answered = dataclasses.replace(answered, abstained=False)
    assert answered.quotes[0].highlights
    assert "»" in to_text(answered)
    declined = to_text(dataclasses.replace(answered, abstained=True))
    assert "»" not in declined and "Possibly related passages (they do not answer the question):" in declined
    assert "Sources of the possibly related passages:" in declined
