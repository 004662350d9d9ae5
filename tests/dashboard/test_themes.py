"""bot.dashboard.themes and bot.dashboard.charts against a seeded records database: every
figure checked against an independent computation from the ORM."""

from __future__ import annotations

import statistics
import xml.etree.ElementTree as ET
from collections import Counter
from datetime import date, datetime, time, timedelta

import pytest
from sqlalchemy import select

from bot.clock import LONDON
from bot.config import Settings
from bot.dashboard import charts, themes
from bot.procedures.timescales import calendar_for
from bot.records.db import open_database
from bot.records.models import Escalation, Person
from scripts.seed_register import seed

NOW = datetime(2025, 6, 30, 12, 0, tzinfo=LONDON)
YEAR = (date(2024, 7, 1), date(2025, 6, 30))
SVG = "{http://www.w3.org/2000/svg}"


@pytest.fixture(scope="module")
def register_db(tmp_path_factory):
    settings = Settings.from_env({"BOT_VAR_DIR": str(tmp_path_factory.mktemp("themes") / "var")})
    database = open_database(settings)
    seed(database, count=300, now=NOW, rng_seed=7)
    yield database
    database.dispose()


def local(moment: datetime) -> date:
    return moment.astimezone(LONDON).date()


def escalations(session, *, start=YEAR[0], end=YEAR[1], where=lambda e: True) -> list[Escalation]:
    every = session.scalars(select(Escalation).order_by(Escalation.id)).all()
    return [e for e in every if start <= local(e.opened_at) <= end and where(e)]


def due(stage):
    return stage.more_time_until or stage.due_on


def overdue_at(escalation, moment) -> bool:
    if not (escalation.opened_at <= moment and (escalation.closed_at is None or escalation.closed_at > moment)):
        return False
    current = [s for s in escalation.stages if s.started_at <= moment and (s.closed_at is None or s.closed_at > moment)]
    return bool(current) and due(current[-1]) is not None and due(current[-1]) < local(moment)


def compute(session, **scope) -> themes.Themes:
    arguments = dict(partnerships=None, agency=None, manager_person_id=None, start=YEAR[0], end=YEAR[1], now=NOW)
    arguments.update(scope)
    return themes.compute(session, **arguments)


def test_totals_categories_and_agency_pairs_match_the_records(register_db):
    with register_db.session() as session:
        seen = compute(session)
        expected = escalations(session)
        status = Counter(e.status for e in expected)
        assert seen.totals == themes.Totals(
            opened=len(expected), open=status["open"], resolved=status["resolved"],
            cancelled=status["cancelled"],
            overdue=sum(1 for e in expected if e.status == "open" and overdue_at(e, NOW)),
            escalated=sum(1 for e in expected if len(e.stages) > 1),
        )  # fmt: skip
        assert seen.totals.opened == 300 and seen.totals.overdue > 0
        assert {c.key: c.count for c in seen.by_category} == {
            **{key: 0 for key in ("levels-of-need", "risk", "roles-and-responsibilities", "communication",
                                  "provision-of-services", "progress-of-plans", "step-up-step-down")},
            **Counter(e.category for e in expected),
        }  # fmt: skip
        counts = [c.count for c in seen.by_category]
        assert counts == sorted(counts, reverse=True)
        assert {(p.raising, p.other): p.count for p in seen.by_agency_pair} == Counter(
            (e.raised_by.agency, e.other_agency) for e in expected
        )
        assert seen.by_agency_pair[0].count == max(p.count for p in seen.by_agency_pair)
        assert "→" in seen.by_agency_pair[0].label


def test_stages_reached_and_resolved_at_the_lowest_stage(register_db):
    with register_db.session() as session:
        seen = compute(session)
        expected = escalations(session)
        reached = Counter((e.partnership, e.stages[-1].index) for e in expected)
        assert {(s.partnership, s.index): s.count for s in seen.by_stage_reached if s.count} == reached
        assert sum(s.count for s in seen.by_stage_reached) == len(expected)
        assert {l.position: l.reached for l in seen.by_level if l.reached} == Counter(
            len(e.stages) for e in expected
        )
        resolved = [e for e in expected if e.status == "resolved"]
        lowest = sum(1 for e in resolved if e.stages[-1].index == 0)
        assert seen.resolved_at_lowest == lowest
        assert seen.share_resolved_at_lowest == pytest.approx(lowest / len(resolved))
        assert {l.position: l.resolved for l in seen.by_level if l.resolved} == Counter(
            len(e.stages) for e in resolved
        )
        assert len({l.position for l in seen.by_level if l.resolved}) >= 3


def test_time_at_each_stage_against_the_timescale(register_db):
    calendar = calendar_for("ENG")
    with register_db.session() as session:
        seen = {(s.partnership, s.index): s for s in compute(session).stage_times}
        taken: dict[tuple[str, int], list[int]] = {}
        by_due: Counter = Counter()
        dated: Counter = Counter()
        for escalation in escalations(session):
            for stage in escalation.stages:
                if stage.closed_at is None or stage.resolved is None:
                    continue
                slot = (escalation.partnership, stage.index)
                taken.setdefault(slot, []).append(
                    calendar.working_days_between(local(stage.started_at), local(stage.closed_at))
                )
                if due(stage) is not None:
                    dated[slot] += 1
                    by_due[slot] += local(stage.closed_at) <= due(stage)
        assert {slot for slot, s in seen.items() if s.closed} == set(taken)
        for slot, days in taken.items():
            figure = seen[slot]
            assert figure.closed == len(days)
            assert figure.median_working_days == pytest.approx(statistics.median(days))
            assert figure.mean_working_days == pytest.approx(statistics.fmean(days), abs=0.01)
            assert (figure.with_due_date, figure.closed_by_due) == (dated[slot], by_due[slot])
        # The procedures' own timescales: South Tyneside's "within 1 day" before and at Stage 1;
        # Bury children's Level 2 "within one week" (5 working days), Level 1 capped by the
        # limit on each stage (10 working days); Warrington sets none.
        assert seen[("south-tyneside", 0)].timescale_working_days == 1
        assert seen[("south-tyneside", 1)].timescale_working_days == 1
        assert seen[("bury-children", 1)].timescale_working_days == 5
        assert seen[("bury-children", 0)].timescale_working_days == 10
        assert seen[("warrington-adults", 0)].timescale_working_days is None


def test_open_and_overdue_month_by_month(register_db):
    with register_db.session() as session:
        seen = compute(session)
        expected = escalations(session)
        assert [p.month for p in seen.monthly] == [date(2024, 7 + i, 1) if i < 6 else date(2025, i - 5, 1) for i in range(12)]
        for point in seen.monthly:
            following = (point.month + timedelta(days=32)).replace(day=1)
            at = min(datetime.combine(following, time.min, tzinfo=LONDON) - timedelta(microseconds=1), NOW)
            assert point.at == at
            open_then = [e for e in expected if e.opened_at <= at and (e.closed_at is None or e.closed_at > at)]
            assert point.open == len(open_then)
            assert point.overdue == sum(1 for e in open_then if overdue_at(e, at))
        assert seen.monthly[-1].open == seen.totals.open
        assert seen.monthly[-1].overdue == seen.totals.overdue
        assert any(p.overdue for p in seen.monthly)


def test_scope_partnership_agency_manager_and_period(register_db):
    with register_db.session() as session:
        one = compute(session, partnerships=["south-tyneside"])
        assert one.totals.opened == len(escalations(session, where=lambda e: e.partnership == "south-tyneside"))
        assert set(one.partnership_names) == {"south-tyneside"} and one.single_partnership == "south-tyneside"
        assert all(s.partnership == "south-tyneside" for s in one.stage_times)

        two = compute(session, partnerships=["bury-adults", "bury-children"])
        assert two.totals.opened == len(escalations(session, where=lambda e: e.partnership.startswith("bury")))

        police = compute(session, agency="police")
        expected = escalations(session, where=lambda e: e.raised_by.agency == "Police" or "Police" in e.agencies)
        assert police.totals.opened == len(expected) > 0
        assert len(expected) > len(escalations(session, where=lambda e: e.raised_by.agency == "Police"))

        managers = Counter(e.raised_by.line_manager_id for e in escalations(session))
        manager_id, team_count = managers.most_common(1)[0]
        team = compute(session, manager_person_id=manager_id)
        assert team.totals.opened == team_count
        lead = session.get(Person, manager_id).line_manager_id
        assert compute(session, manager_person_id=lead).totals.opened == 0  # leads manage managers only

        spring = compute(session, start=date(2025, 3, 1), end=date(2025, 5, 31))
        assert spring.totals.opened == len(escalations(session, start=date(2025, 3, 1), end=date(2025, 5, 31)))
        assert [p.month for p in spring.monthly] == [date(2025, 3, 1), date(2025, 4, 1), date(2025, 5, 1)]

        with pytest.raises(ValueError, match="before it starts"):
            compute(session, start=date(2025, 6, 1), end=date(2025, 5, 1))


def test_charts_are_titled_svg_and_png(register_db):
    with register_db.session() as session:
        seen = compute(session)
        empty = compute(session, partnerships=["no-such-partnership"])
    assert empty.totals.opened == 0 and empty.share_resolved_at_lowest is None
    for figures in (seen, empty):
        rendered = charts.render_all(figures)
        assert set(rendered) == set(charts.TITLES)
        for name, markup in rendered.items():
            root = ET.fromstring(markup)
            assert root.tag == f"{SVG}svg" and root.get("role") == "img"
            assert root.find(f"{SVG}title").text == charts.TITLES[name]
            assert root.find(f"{SVG}desc").text == charts.readings(figures)[name]
            assert markup.count('id="') == markup.count(f'id="{name}-')  # ids never clash inline
        assert charts.render_png(figures, "by_category").startswith(b"\x89PNG\r\n\x1a\n")
    reading = charts.readings(seen)["resolved_at_lowest"]
    assert reading.startswith(f"{seen.resolved_at_lowest} of {seen.totals.resolved} resolved")
    with pytest.raises(KeyError):
        charts.render_png(seen, "pie")
