"""``python -m bot.webchat``: the web chat on its own, with the settings from the environment."""

from __future__ import annotations

import logging
import sys

from bot.config import Settings, SettingsError
from bot.webchat import main

if __name__ == "__main__":
    try:
        settings = Settings.from_env()
    except SettingsError as error:
        print(f"error: {error}", file=sys.stderr)
        sys.exit(2)
    logging.basicConfig(level=settings.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    sys.exit(main(settings))
