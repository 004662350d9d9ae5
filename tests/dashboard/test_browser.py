"""The dashboard in a real browser (Debian's Chromium, driven by Playwright) at a desktop's size,
against a seeded database: sign in as a business manager, filter the register by partnership,
open a record, download the 6-monthly report. Screenshots are kept in the test's directory and
copied to build/results/dashboard-*.png."""

from __future__ import annotations

import re
import shutil
import zipfile
from pathlib import Path

import pytest
from playwright.sync_api import expect

from bot.config import PROJECT_ROOT
from bot.dashboard import auth
from tests.dashboard.conftest import PASSWORD, make_user, serving
from tests.browser import chromium_page

pytestmark = pytest.mark.server

PORT = 8781  # this suite's port only
DESKTOP = {"width": 1440, "height": 900}
RESULTS = PROJECT_ROOT / "build" / "results"


@pytest.fixture
def desktop(tmp_path: Path):
    """A fresh Chromium profile at a desktop viewport, downloads allowed; one page open."""
    with chromium_page(tmp_path / "chromium-profile", timeout_ms=30_000, viewport=DESKTOP, accept_downloads=True) as page:
        yield page


def shot(page, tmp_path: Path, name: str) -> None:
    path = tmp_path / f"dashboard-{name}.png"
    page.screenshot(path=str(path), full_page=True)
    RESULTS.mkdir(parents=True, exist_ok=True)
    shutil.copy(path, RESULTS / path.name)


def test_a_business_manager_filters_opens_a_record_and_downloads_the_report(app, database, desktop, tmp_path):
    make_user(database, "bm-south-tyneside", auth.BUSINESS_MANAGER, partnership="south-tyneside")
    page = desktop
    with serving(app, PORT) as url:
        page.goto(f"{url}/dashboard/")
        expect(page).to_have_url(f"{url}/dashboard/login?next=%2Fdashboard%2F")
        page.get_by_label("Username").fill("bm-south-tyneside")
        page.get_by_label("Password").fill(PASSWORD)
        shot(page, tmp_path, "login")
        page.get_by_role("button", name="Sign in").click()
        expect(page.get_by_role("heading", name="Challenge register")).to_be_visible()

        page.get_by_label("Partnership").select_option("south-tyneside")
        page.get_by_role("button", name="Filter").click()
        expect(page).to_have_url(re.compile(r"partnership=south-tyneside"))
        rows = page.locator("table.register tbody tr[data-reference]")
        expect(rows.first).to_be_visible()
        assert rows.count() > 0
        partnerships = set(page.locator("table.register tbody tr[data-reference] td:nth-child(2)").all_inner_texts())
        assert len(partnerships) == 1 and "Tyneside" in partnerships.pop()
        shot(page, tmp_path, "register")

        reference = rows.first.get_attribute("data-reference")
        rows.first.get_by_role("link", name=reference).click()
        expect(page.get_by_role("heading", name=reference)).to_be_visible()
        expect(page.get_by_role("heading", name="Timeline")).to_be_visible()
        expect(page.locator("table.audit")).to_contain_text("dashboard.viewed")
        shot(page, tmp_path, "record")

        page.get_by_role("link", name="6-monthly report").click()
        page.get_by_label("From").fill("2026-05-01")
        page.get_by_label("to").fill("2026-10-31")
        with page.expect_download() as downloading:
            page.get_by_role("button", name="Download the report").click()
        download = downloading.value
        saved = tmp_path / download.suggested_filename
        download.save_as(saved)
        shot(page, tmp_path, "report")
    assert saved.suffix == ".docx"
    with zipfile.ZipFile(saved) as document:
        assert "word/document.xml" in document.namelist()
    shutil.copy(saved, RESULTS / "dashboard-report.docx")
