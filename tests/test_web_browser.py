"""The web app in a real browser: Debian's Chromium driven by Playwright (never a downloaded browser).

`make test` installs chromium where it can (apt, as root); this test is skipped only where it
could not. Set ZOOMOUT_WEB_SCREENSHOT=docs/web.png to refresh the README's screenshot.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from urllib.parse import urlsplit

import pytest

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--no-first-run",
]  # fmt: skip

_PAUSE_MID_ZOOM = """() => new Promise(done => {
    const video = document.querySelector('#video video');
    video.pause();
    video.onseeked = () => done();
    setTimeout(done, 5000);
    video.currentTime = video.duration / 2;
})"""

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        not CHROMIUM.exists(), reason=f"{CHROMIUM} is absent (apt-get install chromium): no browser to test the page in"
    ),
]
pytest.importorskip("gradio", reason="the web extra is not installed: pip install 'zoomout[web]'")
sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed: pip install 'zoomout[test]'")

from zoomout.web import WebApp, build_app, launch  # noqa: E402


@pytest.fixture
def server(tmp_path):
    app = WebApp(tmp_path / "web")
    demo = launch(build_app(app), port=None)
    yield demo.local_url
    demo.close()
    app.close()


def test_upload_make_and_watch_the_video(server, tmp_path, small_cat):
    outside: list[str] = []
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 1000})
            page.on("request", lambda r: outside.append(r.url) if not _is_local(r.url) else None)
            page.goto(server)

            page.locator("#photos input[type=file]").set_input_files(str(small_cat))
            page.get_by_text("cat small.jpg").first.wait_for(timeout=120_000)  # a guard: a busy machine is slow
            _fill(page, "#size input", "180x320")
            _fill(page, "#slots input[type=number]", "5")
            assert page.locator("#cancel").is_disabled()  # nothing runs yet

            # an error stays readable on the page, in the page's own words
            _fill(page, "#seconds-per-slot input[type=number]", "0")
            page.locator("#make").click()
            page.get_by_text("Seconds per slot should be in").first.wait_for(timeout=60_000)
            assert "Seconds per slot should be in" in page.locator("#status").inner_text()
            page.locator("#make:not([disabled])").wait_for(timeout=30_000)

            # the controls declared once for the CLI and the page
            _fill(page, "#seconds-per-slot input[type=number]", "0.5")
            _choose(page, "#fit", "cover")
            _choose(page, "#ease", "punchy")
            _fill(page, "#label textarea, #label input", "Made with AI [test]")
            page.locator("#loop input[type=checkbox]").check()
            page.locator("#make").click()
            page.locator("#cancel:not([disabled])").wait_for(timeout=30_000)  # running: cancel is offered

            video = page.locator("#video video")
            video.wait_for(state="attached", timeout=180_000)
            page.locator("#slots-gallery img").nth(5).wait_for(timeout=30_000)  # the photo's slot and five more
            gallery = page.locator("#slots-gallery").bounding_box()
            thumbnails = page.locator("#slots-gallery .thumbnail-item").all()
            assert len(thumbnails) == 6
            for thumbnail in thumbnails:  # none clipped at the gallery's edge
                box = thumbnail.bounding_box()
                assert box["x"] >= gallery["x"] and box["x"] + box["width"] <= gallery["x"] + gallery["width"] + 0.5
            page.wait_for_function("document.querySelector('#video video').readyState >= 2", timeout=30_000)
            assert page.locator("#status").inner_text().startswith("Done")
            assert page.locator("#cancel").is_disabled()
            page.evaluate(_PAUSE_MID_ZOOM)  # a still frame for the screenshot

            screenshot = tmp_path / "web.png"
            page.screenshot(path=str(screenshot), full_page=True)
        finally:
            browser.close()

    assert screenshot.stat().st_size > 10_000
    if os.environ.get("ZOOMOUT_WEB_SCREENSHOT"):
        shutil.copyfile(screenshot, os.environ["ZOOMOUT_WEB_SCREENSHOT"])
    assert outside == [], "the page fetched from outside the machine"


def test_per_slot_prompts_box_follows_the_engine_and_its_error_stays_on_the_page(tmp_path, small_cat, monkeypatch):
    # the diffusion engine as on a machine with its weights on disk (none here); no job runs
    from zoomout.engines.diffusion import DiffusionEngine

    monkeypatch.setattr(DiffusionEngine, "unavailable_reason", classmethod(lambda cls, options=None, download=True: None))
    app = WebApp(tmp_path / "web")
    demo = launch(build_app(app), port=None)
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 1000})
            page.goto(demo.local_url)
            page.locator("#photos input[type=file]").set_input_files(str(small_cat))
            page.get_by_text("cat small.jpg").first.wait_for(timeout=120_000)
            box = page.locator("#prompts textarea")
            _choose(page, "#engine", "classic")
            box.wait_for(state="hidden", timeout=30_000)  # classic takes no prompt
            _choose(page, "#engine", "diffusion")
            box.wait_for(state="visible", timeout=30_000)
            assert "line 1 is slot 1" in page.locator("#prompts").inner_text()
            _fill(page, "#slots input[type=number]", "3")
            box.fill("a street at dusk\n\na harbour\na fourth slot")
            page.locator("#make").click()
            wanted = "Prompts per slot should be for slots up to 3, the number of slots, but one is for slot 4"
            page.get_by_text(wanted).first.wait_for(timeout=60_000)
            assert wanted in page.locator("#status").inner_text()  # stays, not only a toast
            page.locator("#make:not([disabled])").wait_for(timeout=30_000)
            assert page.locator("#cancel").is_disabled()
        finally:
            browser.close()
            demo.close()
            app.close()


def _fill(page, selector: str, text: str) -> None:
    field = page.locator(selector).first
    field.fill(text)
    field.press("Enter")


def _choose(page, selector: str, value: str) -> None:
    field = page.locator(f"{selector} input").first
    field.click()
    page.get_by_role("option", name=value, exact=True).click()


def _is_local(url: str) -> bool:
    parts = urlsplit(url)
    return parts.scheme in ("data", "blob") or parts.hostname in ("127.0.0.1", "localhost")
