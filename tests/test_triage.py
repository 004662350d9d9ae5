"""Triage decisions from an intent ranking."""

from __future__ import annotations

from bot.triage import CONDUCT, DISAGREEMENT, IMMEDIATE_RISK, OTHER, Thresholds, triage

T = Thresholds(min_confidence=0.55, min_margin=0.2, risk_alert=0.2, risk_route=0.35)


def ranking(**scores: float) -> list[dict]:
    return [{"name": name, "confidence": value} for name, value in sorted(scores.items(), key=lambda i: -i[1])]


def decide(**scores: float):
    ranked = ranking(**scores)
    return triage(ranked[0], ranked, T)


def test_a_clear_disagreement():
    decision = decide(professional_disagreement=0.9, conduct_concern=0.05, immediate_risk=0.02)
    assert (decision.route, decision.confident, decision.risk_alert) == (DISAGREEMENT, True, False)


def test_immediate_risk_on_top_is_answered_whatever_the_confidence():
    decision = decide(immediate_risk=0.4, professional_disagreement=0.35, conduct_concern=0.25)
    assert (decision.route, decision.confident, decision.risk_alert) == (IMMEDIATE_RISK, True, True)


def test_unsure_between_disagreement_and_conduct_asks():
    decision = decide(professional_disagreement=0.5, conduct_concern=0.42, immediate_risk=0.05)
    assert not decision.confident
    assert decision.route == DISAGREEMENT
    assert decision.options == (DISAGREEMENT, CONDUCT, IMMEDIATE_RISK)
    assert not decision.risk_alert


def test_likely_risk_is_answered_even_below_another_route():
    decision = decide(professional_disagreement=0.5, immediate_risk=0.36, conduct_concern=0.14)
    assert (decision.route, decision.confident, decision.risk_alert) == (IMMEDIATE_RISK, True, True)


def test_plausible_risk_is_flagged_while_asking():
    decision = decide(professional_disagreement=0.45, immediate_risk=0.3, conduct_concern=0.2)
    assert not decision.confident and decision.risk_alert
    assert decision.options[:2] == (DISAGREEMENT, IMMEDIATE_RISK)


def test_a_confident_route_still_flags_plausible_risk():
    decision = decide(conduct_concern=0.7, immediate_risk=0.21, professional_disagreement=0.01)
    assert (decision.route, decision.confident, decision.risk_alert) == (CONDUCT, True, True)


def test_nothing_worrying_is_other():
    ranked = ranking(out_of_scope=0.25, greet=0.2, professional_disagreement=0.1, immediate_risk=0.05)
    decision = triage({"name": "nlu_fallback", "confidence": 0.3}, ranked, T)
    assert (decision.route, decision.confident) == (OTHER, False)
    assert decision.options == ()


def test_unsure_with_a_worry_among_the_candidates_asks():
    ranked = ranking(out_of_scope=0.35, conduct_concern=0.3, professional_disagreement=0.2)
    decision = triage({"name": "nlu_fallback", "confidence": 0.3}, ranked, T)
    assert not decision.confident
    assert decision.route == OTHER
    assert CONDUCT in decision.options and IMMEDIATE_RISK in decision.options


def test_empty_ranking():
    assert triage(None, [], T).route == OTHER
