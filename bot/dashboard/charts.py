"""The themes as charts, drawn on the server with matplotlib (Agg; no pyplot, so no global state
shared between requests): SVG for the dashboard, PNG for the Word report.

Each chart has a title and a one-line reading (``readings``), the colours are the Okabe-Ito
palette (told apart with the common colour-vision deficiencies) and every bar is labelled with
its number, so nothing depends on colour alone.
"""

from __future__ import annotations

import io
import re
from typing import Callable

from matplotlib import rc_context
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.backends.backend_svg import FigureCanvasSVG
from matplotlib.figure import Figure

from bot.dashboard.themes import Themes

BLUE, ORANGE, VERMILLION, GREEN, SKY, GREY = "#0072B2", "#E69F00", "#D55E00", "#009E73", "#56B4E9", "#6E6E6E"
TOP_PAIRS = 12

TITLES = {
    "by_category": "Escalations by category",
    "by_agency_pair": "Escalations by agency pair (raising agency → other agency)",
    "by_stage_reached": "Escalations by highest stage reached",
    "time_to_resolution": "Working days at each stage against its timescale",
    "resolved_at_lowest": "Where escalations were resolved",
    "open_and_overdue": "Open and overdue escalations, month by month",
}

STYLE = {
    "svg.fonttype": "none",  # text stays text: selectable, read by screen readers, smaller
    "font.size": 10,
    "axes.titlesize": 12,
    "axes.titleweight": "bold",
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.edgecolor": GREY,
    "axes.labelcolor": "#222222",
    "xtick.color": "#222222",
    "ytick.color": "#222222",
}


def _short(text: str, width: int = 46) -> str:
    return text if len(text) <= width else text[: width - 1].rstrip() + "…"


def _figure(rows: int = 0, *, height: float | None = None) -> Figure:
    figure = Figure(figsize=(8, height or max(3.2, 0.6 + 0.32 * rows)), dpi=100)
    FigureCanvasAgg(figure)
    return figure


def _empty(ax, message: str = "No escalations in this scope and period") -> None:
    ax.set_axis_off()
    ax.text(0.5, 0.5, message, ha="center", va="center", color=GREY, transform=ax.transAxes)


def _barh(ax, labels: list[str], values: list[float], colour: str) -> None:
    positions = list(range(len(labels)))
    bars = ax.barh(positions, values, color=colour)
    ax.set_yticks(positions)
    ax.set_yticklabels(labels)
    ax.invert_yaxis()
    ax.bar_label(bars, padding=3)
    ax.set_xlim(0, max(values + [1]) * 1.15)
    ax.xaxis.get_major_locator().set_params(integer=True)


def _by_category(themes: Themes) -> Figure:
    items = themes.by_category
    figure = _figure(len(items))
    ax = figure.add_subplot()
    ax.set_title(TITLES["by_category"], loc="left")
    if not themes.totals.opened:
        _empty(ax)
    else:
        _barh(ax, [c.label for c in items], [c.count for c in items], BLUE)
        ax.set_xlabel("escalations opened in the period")
    figure.tight_layout()
    return figure


def _by_agency_pair(themes: Themes) -> Figure:
    items = themes.by_agency_pair[:TOP_PAIRS]
    figure = _figure(len(items))
    ax = figure.add_subplot()
    title = TITLES["by_agency_pair"]
    if len(themes.by_agency_pair) > TOP_PAIRS:
        title += f": the {TOP_PAIRS} most frequent"
    ax.set_title(_short(title, 80), loc="left")
    if not items:
        _empty(ax)
    else:
        _barh(ax, [_short(p.label) for p in items], [p.count for p in items], ORANGE)
        ax.set_xlabel("escalations opened in the period")
    figure.tight_layout()
    return figure


def _level_name(themes: Themes, position: int) -> str:
    single = themes.single_partnership
    if single:
        titles = [s for s in themes.by_stage_reached if s.partnership == single and s.index == position - 1]
        if titles:
            return _short(titles[0].title, 40)
    return f"Stage position {position}"


def _by_stage_reached(themes: Themes) -> Figure:
    levels = themes.by_level
    figure = _figure(len(levels))
    ax = figure.add_subplot()
    ax.set_title(TITLES["by_stage_reached"], loc="left")
    if not themes.totals.opened:
        _empty(ax)
    else:
        _barh(ax, [_level_name(themes, l.position) for l in levels], [l.reached for l in levels], BLUE)
        ax.set_xlabel("escalations whose highest stage is this one (1 = the lowest stage)")
    figure.tight_layout()
    return figure


def _time_to_resolution(themes: Themes) -> Figure:
    items = [s for s in themes.stage_times if s.closed]
    figure = _figure(len(items) + 1)
    ax = figure.add_subplot()
    ax.set_title(TITLES["time_to_resolution"], loc="left")
    if not items:
        _empty(ax, "No stage was closed in this scope and period")
    else:
        single = themes.single_partnership
        labels = [
            _short(s.title if single else f"{s.partnership}: {s.key}", 44) for s in items
        ]
        positions = list(range(len(items)))
        medians = [s.median_working_days or 0 for s in items]
        bars = ax.barh(positions, medians, color=SKY, label="median working days taken")
        ax.bar_label(bars, labels=[f"{m:g}" for m in medians], padding=3)
        marked = [(p, s.timescale_working_days) for p, s in zip(positions, items) if s.timescale_working_days is not None]
        if marked:
            ax.scatter(
                [t for _p, t in marked], [p for p, _t in marked], marker="D", color=VERMILLION, zorder=3,
                label="the procedure's timescale (working days)",
            )  # fmt: skip
        ax.set_yticks(positions)
        ax.set_yticklabels(labels)
        ax.invert_yaxis()
        top = max(medians + [t for _p, t in marked] + [1])
        ax.set_xlim(0, top * 1.2)
        ax.set_xlabel("working days from the stage starting to it being escalated or resolved")
        ax.legend(loc="lower right", frameon=False, fontsize=8)
    figure.tight_layout()
    return figure


def _resolved_at_lowest(themes: Themes) -> Figure:
    levels = [l for l in themes.by_level if l.resolved] or list(themes.by_level)
    figure = _figure(len(levels))
    ax = figure.add_subplot()
    share = themes.share_resolved_at_lowest
    title = TITLES["resolved_at_lowest"]
    if share is not None:
        title += f": {share:.0%} at the lowest stage"
    ax.set_title(title, loc="left")
    if not themes.totals.resolved:
        _empty(ax, "No escalation was resolved in this scope and period")
    else:
        positions = list(range(len(levels)))
        colours = [GREEN if l.position == 1 else GREY for l in levels]
        bars = ax.barh(positions, [l.resolved for l in levels], color=colours)
        ax.bar_label(bars, padding=3)
        ax.set_yticks(positions)
        ax.set_yticklabels([_level_name(themes, l.position) for l in levels])
        ax.invert_yaxis()
        ax.set_xlim(0, max([l.resolved for l in levels] + [1]) * 1.15)
        ax.set_xlabel("escalations resolved at this stage (green: the lowest stage)")
    figure.tight_layout()
    return figure


def _open_and_overdue(themes: Themes) -> Figure:
    points = themes.monthly
    figure = _figure(height=3.6)
    ax = figure.add_subplot()
    ax.set_title(TITLES["open_and_overdue"], loc="left")
    if not points:
        _empty(ax, "No month of this period has begun")
    else:
        labels = [p.month.strftime("%b %Y") for p in points]
        positions = list(range(len(points)))
        ax.plot(positions, [p.open for p in points], marker="o", color=BLUE, label="open at the month's end")
        ax.plot(
            positions, [p.overdue for p in points], marker="s", linestyle="--", color=VERMILLION,
            label="of which overdue",
        )  # fmt: skip
        ax.set_xticks(positions)
        ax.set_xticklabels(labels, rotation=45, ha="right")
        ax.set_ylim(0, max([p.open for p in points] + [1]) * 1.2)
        ax.yaxis.get_major_locator().set_params(integer=True)
        ax.set_ylabel("escalations")
        ax.legend(loc="upper left", frameon=False, fontsize=8)
    figure.tight_layout()
    return figure


CHARTS: dict[str, Callable[[Themes], Figure]] = {
    "by_category": _by_category,
    "by_agency_pair": _by_agency_pair,
    "by_stage_reached": _by_stage_reached,
    "time_to_resolution": _time_to_resolution,
    "resolved_at_lowest": _resolved_at_lowest,
    "open_and_overdue": _open_and_overdue,
}


def readings(themes: Themes) -> dict[str, str]:
    """One sentence per chart saying what it shows, for captions and screen readers."""
    t = themes.totals
    top = next((c for c in themes.by_category if c.count), None)
    pair = themes.by_agency_pair[0] if themes.by_agency_pair else None
    beyond = t.escalated
    timed = [s for s in themes.stage_times if s.with_due_date]
    by_due = sum(s.closed_by_due for s in timed)
    dated = sum(s.with_due_date for s in timed)
    last = themes.monthly[-1] if themes.monthly else None
    share = themes.share_resolved_at_lowest
    return {
        "by_category": (
            f"The most frequent category was {top.label} ({top.count} of {t.opened})." if top
            else "No escalation was opened in this scope and period."
        ),
        "by_agency_pair": (
            f"The most frequent pair was {pair.label} ({pair.count} of {t.opened})." if pair
            else "No escalation was opened in this scope and period."
        ),
        "by_stage_reached": (
            f"{beyond} of {t.opened} escalations went beyond the first stage." if t.opened
            else "No escalation was opened in this scope and period."
        ),
        "time_to_resolution": (
            f"{by_due} of {dated} stages with a due date were closed by it." if dated
            else "No stage with a due date was closed in this scope and period."
        ),
        "resolved_at_lowest": (
            f"{themes.resolved_at_lowest} of {t.resolved} resolved escalations ({share:.0%}) were resolved "
            "at the lowest stage." if share is not None
            else "No escalation was resolved in this scope and period."
        ),
        "open_and_overdue": (
            f"At {last.at:%d %b %Y}, {last.open} were open and {last.overdue} overdue." if last
            else "No month of this period has begun."
        ),
    }  # fmt: skip


def _svg(name: str, figure: Figure, reading: str) -> str:
    buffer = io.BytesIO()
    with rc_context({"svg.hashsalt": name}):
        FigureCanvasSVG(figure).print_svg(buffer)
    markup = buffer.getvalue().decode("utf-8")
    markup = markup[markup.index("<svg") :]  # no XML declaration or DOCTYPE: ready to inline
    # Ids prefixed with the chart's name, so several charts inlined in one page never clash.
    markup = re.sub(r'\bid="', f'id="{name}-', markup)
    markup = re.sub(r"url\(#", f"url(#{name}-", markup)
    markup = re.sub(r'xlink:href="#', f'xlink:href="#{name}-', markup)
    title, desc = _escape(TITLES[name]), _escape(reading)
    opening_end = markup.index(">") + 1
    opening = markup[: opening_end - 1] + f' role="img" aria-labelledby="{name}-title {name}-desc">'
    return (
        opening + f'\n <title id="{name}-title">{title}</title>\n <desc id="{name}-desc">{desc}</desc>'
        + markup[opening_end:]
    )


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")


def render_all(themes: Themes) -> dict[str, str]:
    """Every chart, name -> self-contained SVG markup with a <title> and a <desc>."""
    said = readings(themes)
    with rc_context(STYLE):
        return {name: _svg(name, draw(themes), said[name]) for name, draw in CHARTS.items()}


def render_png(themes: Themes, name: str, *, dpi: int = 150) -> bytes:
    """One chart as a PNG, for the Word report."""
    if name not in CHARTS:
        raise KeyError(f"no chart '{name}'; charts: {', '.join(CHARTS)}")
    buffer = io.BytesIO()
    with rc_context(STYLE):
        figure = CHARTS[name](themes)
        figure.savefig(buffer, format="png", dpi=dpi)
    return buffer.getvalue()
