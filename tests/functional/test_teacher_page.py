"""The teacher's page in headless Chromium, on the running platform: sign in, create a batch,
upload sample essays (file input and drag and drop), run the pipeline, follow it live, read the
results, open an essay's corrections, download the CSV. A screenshot is saved at every step
under `.local/screenshots/`."""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from playwright.async_api import Browser, ConsoleMessage, FilePayload, Page, expect

from huleedu_service_libs.local_infra.platform import Platform

pytestmark = [pytest.mark.functional, pytest.mark.timeout(600)]

PIPELINE = "cj_assessment"
"""The pipeline the teacher starts (`cj_assessment` once comparative judgement runs)."""

ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = ROOT / ".local" / "screenshots"
ESSAYS = sorted((ROOT / "sample" / "essays").glob("*.txt"))[:5]
BLANK = "blank.txt"
"""An empty file: rejected by file_service, it closes one slot as failed."""
SLOTS = len(ESSAYS) + 1
STEP_TIMEOUT_MS = 30_000
PIPELINE_TIMEOUT_MS = 300_000


@pytest.fixture
async def page(browser: Browser, platform: Platform) -> AsyncIterator[Page]:
    context = await browser.new_context(
        base_url=platform.urls["api_gateway"], accept_downloads=True
    )
    context.set_default_timeout(STEP_TIMEOUT_MS)
    opened = await context.new_page()
    try:
        yield opened
    finally:
        await context.close()


async def snap(page: Page, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


def read_csv(path: Path) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(path.read_text(encoding="utf-8"))))


async def drop_file(page: Page, name: str, text: str) -> None:
    """Drop one file on the drop zone the way a browser does (a `drop` with a DataTransfer)."""
    await page.evaluate(
        """([name, text]) => {
            const transfer = new DataTransfer();
            transfer.items.add(new File([text], name, { type: "text/plain" }));
            const zone = document.getElementById("drop-zone");
            const init = { dataTransfer: transfer, bubbles: true, cancelable: true };
            zone.dispatchEvent(new DragEvent("dragover", init));
            zone.dispatchEvent(new DragEvent("drop", init));
        }""",
        [name, text],
    )


async def test_a_teacher_runs_a_batch_from_the_page(page: Page) -> None:
    assert len(ESSAYS) == 5, "sample/essays must hold at least five essays"
    problems: list[str] = []

    def record_console(message: ConsoleMessage) -> None:
        # A 404 while result_aggregator has not yet seen the new batch is expected and retried;
        # anything else (a CSP violation, a script error) is a defect.
        if message.type == "error" and not message.text.startswith("Failed to load resource"):
            problems.append(message.text)

    page.on("console", record_console)
    page.on("pageerror", lambda error: problems.append(str(error)))

    await page.goto("/")
    await expect(page.locator("body")).to_have_attribute("data-ready", "true")
    unlabelled = await page.evaluate(
        """() => [...document.querySelectorAll("input, select, textarea")]
            .filter((field) => field.labels.length === 0).map((field) => field.id)"""
    )
    assert unlabelled == []
    await snap(page, "01-sign-in")

    await page.get_by_label("Teacher id").fill("teacher-page")
    await page.get_by_role("button", name="Sign in").click()
    await expect(page.locator("#teacher-name")).to_have_text("teacher-page")
    await snap(page, "02-signed-in")

    await page.get_by_label("Course code").fill("ENG5")
    await page.get_by_label("Title").fill("Phones in school")
    await page.get_by_label("Instructions the students were given").fill(
        (ROOT / "sample" / "assignment.md").read_text()[:2000]
    )
    await page.get_by_label("Expected number of essays").fill(str(SLOTS))
    await page.get_by_role("button", name="Create batch").click()
    await expect(page.locator("#upload-section")).to_be_visible()
    await expect(page.locator("#batch-id")).not_to_be_empty()
    await snap(page, "03-batch-created")

    file_input = page.get_by_label("Choose files")
    await file_input.set_input_files([str(path) for path in ESSAYS[:-1]])
    await expect(page.locator("#file-list li")).to_have_count(len(ESSAYS) - 1)
    await file_input.set_input_files(
        files=[FilePayload(name=BLANK, mimeType="text/plain", buffer=b"")]
    )
    await drop_file(page, ESSAYS[-1].name, ESSAYS[-1].read_text())
    accepted = page.locator('#file-list li[data-status="accepted"]')
    await expect(accepted).to_have_count(len(ESSAYS))
    rejected = page.locator('#file-list li[data-status="rejected"]')
    await expect(rejected).to_have_count(1)
    await expect(rejected).to_contain_text(f"{BLANK}: rejected — ")
    await snap(page, "04-files-accepted")

    start = page.get_by_role("button", name="Start")
    await expect(start).to_be_enabled()
    await page.get_by_label("Pipeline").select_option(PIPELINE)
    await start.click()
    await expect(page.locator("#event-log li").first).to_be_attached()
    await snap(page, "05-progress")

    results = page.locator("#results-section")
    await expect(results).to_be_visible(timeout=PIPELINE_TIMEOUT_MS)
    await expect(page.locator("#progress-summary")).to_contain_text(
        f"{len(ESSAYS)} of {len(ESSAYS)} essays done"
    )
    rows = page.locator("#results-table tbody tr")
    await expect(rows).to_have_count(SLOTS)
    shown_files = await page.locator("#results-table tbody th").all_text_contents()
    assert sorted(shown_files) == sorted([BLANK, *(path.name for path in ESSAYS)])
    blank_row = rows.filter(has_text=BLANK)
    await expect(blank_row.locator("td:nth-child(6)")).to_contain_text("intake")
    errors = [
        int(text) if text.isdigit() else -1
        for text in await rows.locator("td:nth-child(5)").all_text_contents()
    ]
    assert errors.count(-1) == 1  # only the rejected file has no spellcheck count
    if PIPELINE == "cj_assessment":
        ranks = await rows.locator("td:nth-child(1)").all_text_contents()
        assert ranks[: len(ESSAYS)] == [str(rank) for rank in range(1, len(ESSAYS) + 1)]
        await expect(page.locator("#results-summary")).to_contain_text("comparisons")
    await snap(page, "06-results")

    most_errors = errors.index(max(errors))
    await rows.nth(most_errors).get_by_role("button").click()
    essay = page.locator("#essay-section")
    await expect(essay).to_be_visible()
    await expect(essay).to_be_focused()
    await expect(page.locator("#essay-title")).to_have_text(shown_files[most_errors])
    marks = page.locator("#essay-text mark.correction")
    if max(errors) > 0:
        await expect(marks.first).to_be_visible()
        assert await marks.count() == await page.locator("#correction-list li").count()
    await snap(page, "07-essay-corrections")

    async with page.expect_download() as download_info:
        await page.get_by_role("button", name="Download CSV").click()
    download = await download_info.value
    table = read_csv(await download.path())
    assert len(table) == SLOTS
    names = sorted(shown_files)
    assert any(sorted(row[column] for row in table) == names for column in table[0])
    await snap(page, "08-csv-downloaded")

    assert problems == []
