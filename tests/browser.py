"""Debian's Chromium driven by Playwright (never a downloaded browser), for the browser tests."""

from __future__ import annotations

import contextlib
import shutil
from pathlib import Path
from typing import Any, Iterator

import pytest

# Without the background-networking flags Chromium keeps trying this machine's closed network.
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]  # fmt: skip


def chromium_path() -> str | None:
    """Debian's Chromium, or None."""
    for candidate in ("/usr/bin/chromium", shutil.which("chromium"), shutil.which("chromium-browser")):
        if candidate and Path(candidate).is_file():
            return candidate
    return None


@contextlib.contextmanager
def chromium_page(profile: Path, *, timeout_ms: int, **context_options: Any) -> Iterator[Any]:
    """One page in a fresh Chromium profile with ``context_options`` (viewport, touch...); the test
    is skipped, with the way to install it, where Chromium is absent."""
    from playwright.sync_api import sync_playwright

    executable = chromium_path()
    if executable is None:
        pytest.skip("Chromium is not installed (/usr/bin/chromium): `apt-get install -y chromium`")
    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(profile), executable_path=executable, args=CHROMIUM_ARGS, headless=True,
            locale="en-GB", service_workers="block", **context_options,
        )  # fmt: skip
        try:
            page = context.pages[0] if context.pages else context.new_page()
            page.set_default_timeout(timeout_ms)
            yield page
        finally:
            context.close()
