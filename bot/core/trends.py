"""Trends: how the executive-frontline gap moves from round to round, and charts of it.

Customers' answers, where there are any, are a third line (and bar) beside the two sides.

Each point is one round's figures for one question (or one theme of the question
bank), taken from the analysis engine, so a text-only question has a point too
(its inferred stance on the 1-5 scale). The anonymity floor applies to every
point: a side under the floor in a round is left out, and the chart says so.
Charts are PNGs drawn with matplotlib's headless Agg backend.
"""

from __future__ import annotations

import io
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import timedelta

import matplotlib

matplotlib.use("Agg")  # headless: no display on a server
import matplotlib.pyplot as plt  # noqa: E402

from bot.analysis.models import QuestionResult, SideFigures  # noqa: E402
from bot.core.domain import Round  # noqa: E402
from bot.core.replies import File, Reply  # noqa: E402
from bot.core.scope import Scope
from bot.core.service import IntegrityCheck  # noqa: E402

ANCHOR = "give-away"
#: Per side: the marker, its size, and where its value is written; customers are a hollow,
#: larger marker so a side they agree with still shows through.
MARKERS = {
    "executive": ("o", 6, (7, 4)),
    "frontline": ("o", 6, (7, -10)),
    "customers": ("D", 10, (-8, -3)),
}


@dataclass(frozen=True)
class TrendPoint:
    round_number: int
    opened_on: str
    executive: float | None  # None: hidden by the floor, or not asked
    frontline: float | None
    basis: str = "ratings"  # or "text": inferred stance
    customers: float | None = None  # None: no customer answers, or under the floor

    @property
    def gap(self) -> float | None:
        """Executives minus frontline as printed (one decimal each), so the three numbers a
        reader sees add up, as in the summary: 4.2 and 1.6 show a gap of +2.6."""
        if self.executive is None or self.frontline is None:
            return None
        return round(round(self.executive, 1) - round(self.frontline, 1), 1)


@dataclass
class Trend:
    """The figures of several rounds, per question and per bank theme."""

    rounds: list[Round]
    questions: dict[str, list[TrendPoint]] = field(default_factory=dict)
    themes: dict[str, list[TrendPoint]] = field(default_factory=dict)
    response: dict[int, dict[str, dict[str, int]]] = field(default_factory=dict)
    hidden_points: int = 0
    year_ago: Round | None = None


def _side_value(side: SideFigures) -> tuple[float | None, str]:
    if side.mean_rating is not None:
        return side.mean_rating, "ratings"
    if side.stance is not None:
        return round(3 + 2 * side.stance, 2), "text"  # stance -1..1 onto the 1-5 scale
    return None, "none"


def _point(round_: Round, result: QuestionResult) -> TrendPoint:
    executive, basis_e = _side_value(result.executive)
    frontline, basis_f = _side_value(result.frontline)
    basis = "text" if "text" in (basis_e, basis_f) else "ratings"
    customers = result.customers.mean_rating if result.customers else None
    return TrendPoint(
        round_.number, round_.opened_at.date().isoformat(), executive, frontline, basis, customers
    )


def build_trend(service: IntegrityCheck, rounds: list[Round], team: str | None = None) -> Trend:
    """Analyse each closed round on its own and line the figures up (an open round has its
    response rate and no point: see `IntegrityCheck.view`)."""
    trend = Trend(rounds=rounds)
    theme_of = {q.id: q.theme for q in service.questions(active_only=False)}
    for round_ in rounds:
        trend.response[round_.number] = service.response_rate(round_)
        if round_.is_open:
            continue
        analysis, _ = service.analysis(Scope(rounds=[round_], team=team))
        by_theme: dict[str, list[TrendPoint]] = defaultdict(list)
        results = {r.question_id: r for r in analysis.questions}
        for question_id in round_.question_ids:
            result = results.get(question_id)
            if result is None:
                # Every group of this question was under the floor: the core never
                # passed its answers on, so the point is hidden, not absent.
                point = TrendPoint(round_.number, round_.opened_at.date().isoformat(), None, None)
            else:
                point = _point(round_, result)
            if point.gap is None:
                trend.hidden_points += 1
            trend.questions.setdefault(question_id, []).append(point)
            by_theme[theme_of.get(question_id, "other")].append(point)
        for theme, points in by_theme.items():
            trend.themes.setdefault(theme, []).append(_mean_point(round_, points))
    if rounds:
        latest = rounds[-1]
        target = latest.opened_at - timedelta(weeks=52)
        earlier = [r for r in service.rounds() if abs(r.opened_at - target) <= timedelta(days=7)]
        trend.year_ago = earlier[0] if earlier else None
    return trend


def _mean_point(round_: Round, points: list[TrendPoint]) -> TrendPoint:
    def mean(values: list[float | None]) -> float | None:
        kept = [v for v in values if v is not None]
        return round(sum(kept) / len(kept), 2) if kept else None

    return TrendPoint(
        round_.number,
        round_.opened_at.date().isoformat(),
        mean([p.executive for p in points]),
        mean([p.frontline for p in points]),
        "text" if any(p.basis == "text" for p in points) else "ratings",
        mean([p.customers for p in points]),
    )


#: Each voice's line: attribute of `TrendPoint`, colour, legend label.
SIDES = (
    ("executive", "#1f4e9c", "Executives"),
    ("frontline", "#c0392b", "Frontline"),
    ("customers", "#1e8449", "Customers"),
)


def gap_chart(title: str, points: list[TrendPoint], floor: int) -> bytes:
    """Executives and frontline over the rounds, the gap shaded, and customers' line where
    they answered; hidden points marked."""
    fig, ax = plt.subplots(figsize=(8, 4.2), dpi=110)
    xs = [p.round_number for p in points]
    for side, colour, label in SIDES:
        ys = [getattr(p, side) for p in points]
        shown = [(x, y) for x, y in zip(xs, ys, strict=True) if y is not None]
        if shown:
            marker, size, offset = MARKERS[side]
            ax.plot(
                *zip(*shown, strict=True), marker=marker, markersize=size, color=colour,
                markerfacecolor="none" if side == "customers" else colour,
                markeredgewidth=2, label=label, linewidth=2,
            )  # fmt: skip
            align = "left" if offset[0] > 0 else "right"
            for x, y in shown:  # each side labelled on its own side: equal values stay readable
                ax.annotate(f"{y:.1f}", (x, y), textcoords="offset points", xytext=offset,
                            fontsize=7, color=colour, ha=align)  # fmt: skip
    both = [(p.round_number, p.executive, p.frontline) for p in points if p.gap is not None]
    if both:
        x, e, f = zip(*both, strict=True)
        ax.fill_between(x, e, f, color="#999999", alpha=0.18, label="Gap")
    hidden = [p.round_number for p in points if p.gap is None]
    for x in hidden:
        ax.axvline(x, color="#bbbbbb", linestyle=":", linewidth=1)
    ax.set_ylim(1, 5)
    ax.set_xticks(xs)
    ax.set_xlabel("Round")
    ax.set_ylabel("Average (1-5)")
    ax.set_title(_wrap(title), fontsize=10)
    ax.grid(axis="y", alpha=0.3)
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1), fontsize=8, frameon=False)
    if hidden:
        fig.text(
            0.01, 0.01,
            f"Dotted rounds: a side had fewer than {floor} answers; hidden to keep them anonymous.",
            fontsize=7, color="#666666",
        )  # fmt: skip
    return _png(fig)


def sides_chart(
    title: str,
    labels: list[str],
    executive: list,
    frontline: list,
    customers: list | None = None,
) -> bytes:
    """The latest round: executives, frontline (and customers, when any answered) side by
    side per question."""
    fig, ax = plt.subplots(figsize=(8, 0.6 + 0.55 * max(len(labels), 1)), dpi=110)
    ys = range(len(labels))
    bars = [executive, frontline]
    if customers and any(v is not None for v in customers):
        bars.append(customers)
    height = 0.8 / len(bars)
    for i, (values, (_side, colour, label)) in enumerate(zip(bars, SIDES, strict=False)):
        offset = (len(bars) - 1) / 2 * height - i * height
        ax.barh(
            [y - offset for y in ys],
            [v or 0 for v in values],
            height=height,
            color=colour,
            label=label,
        )
    ax.set_yticks(list(ys), [_wrap(label, 38) for label in labels], fontsize=7)
    ax.set_xlim(0, 5)
    ax.set_title(title, fontsize=10)
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1), fontsize=8, frameon=False)
    ax.invert_yaxis()
    return _png(fig)


def _png(fig) -> bytes:
    buffer = io.BytesIO()
    fig.tight_layout()
    fig.savefig(buffer, format="png")
    plt.close(fig)
    return buffer.getvalue()


def _wrap(text: str, width: int = 80) -> str:
    words, lines, line = text.split(), [], ""
    for word in words:
        if len(line) + len(word) + 1 > width:
            lines.append(line)
            line = word
        else:
            line = f"{line} {word}".strip()
    return "\n".join([*lines, line])


def trend_chart(service: IntegrityCheck, question_id: str = ANCHOR) -> Reply:
    """The anchor question's gap over every round so far, as a chart to attach to a summary."""
    rounds = [r for r in service.rounds() if question_id in r.question_ids]
    if not rounds:
        return Reply()
    points = build_trend(service, rounds).questions.get(question_id, [])
    text = service.question(question_id).text
    png = gap_chart(text, points, service.settings.floor.size)
    return Reply(
        [File(f"trend-{question_id}.png", png, "image/png", title="The gap over time: " + text)]
    )
