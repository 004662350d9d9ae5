"""Delivering a nudge into the recipient's conversation through Rasa's HTTP API.

``POST /conversations/<sender>/trigger_intent?output_channel=latest`` with the ``EXTERNAL_nudge``
intent and the nudge's key as entity ``nudge``: Rasa runs ``action_nudge`` in that conversation,
whose replies (domain responses) go out on the channel the person last used (Telegram, Teams),
or, for the REST channel and the terminal chat, wait in the conversation for the client to read.

``delivered`` reads the conversation first: a nudge whose key is already there arrived before a
crash or a lost response, and is not sent again.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request

EXTERNAL_INTENT = "EXTERNAL_nudge"
NUDGE_ENTITY = "nudge"


class DeliveryError(RuntimeError):
    """The nudge could not be handed to the assistant; the message says why in a sentence."""


class RasaDelivery:
    def __init__(self, rasa_url: str, timeout: float = 30.0) -> None:
        self.rasa_url = rasa_url.rstrip("/")
        self.timeout = timeout

    def _conversation(self, sender: str) -> str:
        return f"{self.rasa_url}/conversations/{urllib.parse.quote(sender, safe='')}"

    def _call(self, request: urllib.request.Request) -> dict:
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                return json.loads(response.read() or b"{}")
        except urllib.error.HTTPError as error:
            raise DeliveryError(f"the assistant answered HTTP {error.code} ({error.reason})") from None
        except (urllib.error.URLError, OSError, ValueError) as error:
            raise DeliveryError(f"the assistant could not be reached ({error})") from None

    def delivered(self, sender: str, key: str) -> bool:
        """Whether the conversation already holds the nudge with this key."""
        tracker = self._call(urllib.request.Request(f"{self._conversation(sender)}/tracker?include_events=ALL"))
        for event in tracker.get("events") or []:
            if event.get("event") != "user":
                continue
            for entity in (event.get("parse_data") or {}).get("entities") or []:
                if entity.get("entity") == NUDGE_ENTITY and entity.get("value") == key:
                    return True
        return False

    def deliver(self, sender: str, key: str) -> list[dict]:
        """Trigger the nudge in ``sender``'s conversation; the messages the assistant produced."""
        body = json.dumps({"name": EXTERNAL_INTENT, "entities": {NUDGE_ENTITY: key}}).encode()
        request = urllib.request.Request(
            f"{self._conversation(sender)}/trigger_intent?output_channel=latest",
            data=body, headers={"Content-Type": "application/json"}, method="POST",
        )  # fmt: skip
        answer = self._call(request)
        return answer.get("messages") or []
