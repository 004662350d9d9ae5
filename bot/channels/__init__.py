"""Rasa custom connectors for the channels practitioners and managers use: Telegram
(``telegram``, python-telegram-bot) and Microsoft Teams (``teams``, botframework-connector).

Contract with the rest of the assistant:

* ``python -m bot serve`` lists a connector in ``var/credentials.yml`` when its settings are
  present (``BOT_TELEGRAM_TOKEN``, ``BOT_TEAMS_APP_ID``); connectors read their settings with
  ``bot.config.Settings.from_env()`` in ``from_credentials`` (no secret is written to disk).
* A conversation's sender id is the channel's identity of the person (Telegram chat id, Teams
  user id); ``tracker.get_latest_input_channel()`` is the connector's ``name()``.
* ``get_output_channel()`` returns an output channel that can message any sender proactively:
  nudges (``bot.nudges``) use Rasa's ``trigger_intent?output_channel=latest``.
"""
