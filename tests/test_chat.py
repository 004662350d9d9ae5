"""The terminal chat's rendering of replies and buttons."""

from __future__ import annotations

from bot.chat import render


def test_render_numbers_buttons_across_replies():
    text, buttons = render(
        [
            {"text": "First line\nSecond line"},
            {"text": "Which one?", "buttons": [{"title": "A", "payload": "/a"}, {"title": "B", "payload": "/b"}]},
        ]
    )
    assert text.splitlines() == ["bot> First line", "bot> Second line", "bot> Which one?", "bot>   [1] A", "bot>   [2] B"]
    assert [b["payload"] for b in buttons] == ["/a", "/b"]


def test_render_wraps_long_lines():
    text, _ = render([{"text": "word " * 40}], width=40)
    assert all(len(line) <= 45 for line in text.splitlines())
    assert len(text.splitlines()) > 1


def test_render_shows_an_attachment_as_a_file():
    text, _ = render([{"attachment": {"type": "file", "name": "ESC-7K2P9Q-escalation-summary.docx", "path": "/var/x.docx"}}])
    assert text == "bot> 📎 ESC-7K2P9Q-escalation-summary.docx: /var/x.docx"
