"""The chat's "Download this answer" control in a real headless Chromium: the file downloaded is the export."""

from __future__ import annotations

import csv
import io
import json
import re
from pathlib import Path

import pytest

from conftest import write_markup_corpus
from test_web import CHROMIUM, CHROMIUM_ARGS, QUESTION, _serving


@pytest.fixture(scope="module")
def served(tmp_path_factory, real_encoder):
    from assistant.pipeline.build import build_index

    root = tmp_path_factory.mktemp("download")
    corpus = write_markup_corpus(root / "corpus")
    build_index(corpus, encoder=real_encoder, out_dir=root / "index")
    with _serving(root, root / "index") as running:
        yield running


@pytest.mark.browser
@pytest.mark.model
def test_download_this_answer_in_each_format(served, tmp_path):
    if not Path(CHROMIUM).exists():
        pytest.skip(f"{CHROMIUM} is missing (apt-get install chromium, or make browser)")
    from playwright.sync_api import expect, sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000}, accept_downloads=True)
            page.goto(served.url)
            button = page.locator("a#download-answer")
            expect(page.locator("#question textarea")).to_be_visible(timeout=30_000)
            expect(button).to_have_count(0)  # nothing to download before an answer
            page.locator("#question textarea").fill(QUESTION)
            page.locator("#question textarea").press("Enter")
            expect(page.locator("#chat blockquote").first).to_be_visible(timeout=60_000)
            expect(button).to_be_visible(timeout=30_000)
            with page.expect_download() as got:
                button.click()
            md = Path(got.value.path()).read_text(encoding="utf-8")
            assert got.value.suggested_filename.endswith(".md")
            assert md.startswith(f"# {QUESTION}") and "## Sources" in md and "SHA-256 " in md
            for label, suffix in (("JSON record", ".json"), ("CSV", ".csv")):
                page.locator("#download-format input").click()
                page.get_by_role("option", name=label).first.click()
                expect(button).to_have_attribute("download", re.compile(rf".*{re.escape(suffix)}$"), timeout=30_000)
                with page.expect_download() as got:
                    button.click()
                data = Path(got.value.path()).read_text(encoding="utf-8")
                if suffix == ".json":
                    record = json.loads(data)
                    assert record["query"] == QUESTION and record["hits"][0]["provenance"]["sha256"]
                else:
                    rows = list(csv.DictReader(io.StringIO(data)))
                    assert rows and rows[0]["question"] == QUESTION and rows[0]["quote"]
            page.screenshot(path=str(tmp_path / "download.png"))
            # clearing the chat forgets its answer: nothing is left to download
            page.locator("#chat").get_by_role("button", name=re.compile("clear", re.I)).first.click()
            expect(page.locator("#chat blockquote")).to_have_count(0, timeout=30_000)
            expect(button).to_have_count(0, timeout=30_000)
            expect(page.locator("#download-link")).not_to_contain_text("Download")
        finally:
            browser.close()


@pytest.mark.browser
@pytest.mark.model
def test_a_pdf_quote_is_shown_on_its_page_with_the_quote_marked(tmp_path_factory, real_encoder):
    if not Path(CHROMIUM).exists():
        pytest.skip(f"{CHROMIUM} is missing (apt-get install chromium, or make browser)")
    from playwright.sync_api import expect, sync_playwright

    from assistant.pipeline.build import build_index
    from docgen import make_pdf

    root = tmp_path_factory.mktemp("pdfpage")
    corpus = root / "reports"
    corpus.mkdir()
    make_pdf(corpus / "annual.pdf", [("Findings", [
        "Prison camps hold political prisoners who are forced to work long hours with little food. " * 2,
        "Food shortages have left many children malnourished in the northern provinces. " * 2,
        "The harvest failed in two provinces and markets closed for the winter months. " * 2,
    ])], title="Annual report", author="Watchers", header="Annual report — Watchers")
    build_index(corpus, encoder=real_encoder, out_dir=root / "index")
    with _serving(root, root / "index") as running, sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1200})
            page.goto(running.url)
            box = page.locator("#question textarea")
            expect(box).to_be_visible(timeout=30_000)
            box.fill("Are children malnourished because of food shortages?")
            box.press("Enter")
            figure = page.locator("#source-view figure.src-page img")
            expect(figure).to_be_visible(timeout=60_000)
            assert figure.evaluate("img => img.naturalWidth") > 0  # the image decoded
            expect(page.locator("#source-view figcaption")).to_contain_text("p. 1 of reports/annual.pdf")
            expect(page.locator("#source-view .src-para.cited")).to_be_visible()  # the text, as before
            figure.scroll_into_view_if_needed()
            page.screenshot(path=str(root / "pdf-quote.png"), full_page=True)
        finally:
            browser.close()
