"""Build the Teams app package: ``python teams/build.py`` → ``build/teams-app.zip``.

Draws the two icons Teams asks for (``color.png`` 192x192, ``outline.png`` 32x32 white on
transparent) and zips them with ``manifest.json``, putting ``BOT_TEAMS_APP_ID`` from the
environment in place of ``${BOT_TEAMS_APP_ID}``. Upload the zip in Teams: Apps → Manage your apps
→ Upload an app (or through the Teams admin centre for the whole organisation).
"""

from __future__ import annotations

import os
import re
import sys
import zipfile
from pathlib import Path

from PIL import Image, ImageDraw

HERE = Path(__file__).resolve().parent
ACCENT = (31, 94, 140, 255)  # the manifest's accentColor, #1F5E8C
APP_ID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")


def shield(draw: ImageDraw.ImageDraw, size: int, fill: tuple[int, int, int, int], inset: float) -> None:
    """A shield with a tick: the assistant's mark, scaled to ``size``."""
    s, m = size, size * inset
    draw.polygon([(m, m), (s - m, m), (s - m, s * 0.55), (s / 2, s - m), (m, s * 0.55)], fill=fill)


def draw_icons(folder: Path = HERE) -> None:
    color = Image.new("RGBA", (192, 192), ACCENT)
    draw = ImageDraw.Draw(color)
    shield(draw, 192, (255, 255, 255, 255), 0.2)
    draw.line([(68, 96), (88, 118), (126, 74)], fill=ACCENT, width=12)
    color.convert("RGB").save(folder / "color.png")

    outline = Image.new("RGBA", (32, 32), (0, 0, 0, 0))
    shield(ImageDraw.Draw(outline), 32, (255, 255, 255, 255), 0.1)
    outline.save(folder / "outline.png")


def package(app_id: str, target: Path) -> Path:
    if not APP_ID.match(app_id):
        raise SystemExit("Set BOT_TEAMS_APP_ID to the bot's Microsoft App ID (a GUID) to build the package.")
    manifest = (HERE / "manifest.json").read_text(encoding="utf-8").replace("${BOT_TEAMS_APP_ID}", app_id)
    target.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("manifest.json", manifest)
        for icon in ("color.png", "outline.png"):
            archive.write(HERE / icon, icon)
    return target


if __name__ == "__main__":
    if "--icons" in sys.argv:
        draw_icons()
    else:
        print(package(os.environ.get("BOT_TEAMS_APP_ID", ""), HERE.parent / "build" / "teams-app.zip"))
