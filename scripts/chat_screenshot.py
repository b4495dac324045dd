"""Screenshot of the web chat after a question with a filter active and HTML in the user's message.

Usage: python scripts/chat_screenshot.py URL OUT.png   (a running `assistant serve`, Debian's /usr/bin/chromium)

Asks one question, sets "Dated from 2014", asks a question holding HTML, and saves
the window: the user's HTML must show as text, the answer start with
"Filtered: dated from 2014" and quote [1] in view.
"""

from __future__ import annotations

import sys
import time

CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
QUESTION = "<b>What happens</b> to North Koreans forcibly returned from China? <img src=x onerror=alert(1)>"


def main(url: str, out: str) -> None:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", headless=True, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.goto(url)
            box = page.locator("#question textarea")
            box.wait_for(timeout=30_000)
            box.fill("What happens in prison camps?")
            box.press("Enter")
            page.locator("#chat blockquote").first.wait_for(timeout=60_000)
            page.get_by_text("Settings: quotes, search mode, filters").click()
            page.get_by_role("textbox", name="Dated from").fill("2014")
            box.fill(QUESTION)
            box.press("Enter")
            page.wait_for_function("document.querySelectorAll('#chat .bot-row').length >= 2", timeout=60_000)
            time.sleep(2)  # the scroll to the new answer runs after it is shown
            page.evaluate("window.scrollTo(0, 0)")
            page.screenshot(path=out)
        finally:
            browser.close()


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    main(sys.argv[1], sys.argv[2])
