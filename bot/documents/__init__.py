"""Word documents made from an escalation record: a partnership's own form, or a summary.

``render`` is the entry point; ``forms`` holds one function per document.
"""

from bot.documents.forms import (
    escalation_notification,
    escalation_summary,
    form_reached,
    render,
    request_for_resolution,
)

__all__ = [
    "escalation_notification",
    "escalation_summary",
    "form_reached",
    "render",
    "request_for_resolution",
]
