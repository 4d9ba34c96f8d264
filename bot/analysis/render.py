"""Drawing an `Analysis` as a platform-neutral reply executives can scan in a minute.

Order: contradictions first (each with verbatim quotes from both sides), then the
two sides' figures side by side, blind spots, the round's themes, what the
anonymity floor hid, flagged answers and notes. Quotes are attributed to a role,
never to a person.
"""

from __future__ import annotations

from bot.analysis.models import Analysis, QuestionResult, SideFigures, Theme
from bot.core.replies import Heading, Note, Quote, Reply, Table, Text

MAX_THEMES_SHOWN = 6
#: The report shows the strongest two per side; the JSON keeps them all.
QUOTES_PER_SIDE = 2


def to_reply(analysis: Analysis, title: str = "What executives and frontline see") -> Reply:
    """The analysis as a readable report: contradictions first, then figures and themes."""
    reply = Reply([Heading(title)])
    questions = {q.question_id: q for q in analysis.questions}

    reply.add(Heading("Contradictions"))
    if not analysis.contradictions:
        reply.add(Text("No clear contradiction between executives and frontline this time."))
    for number, contradiction in enumerate(analysis.contradictions, start=1):
        reply.add(Text(f"{number}. {contradiction.summary}"))
        for quote in contradiction.executive_quotes[:QUOTES_PER_SIDE]:
            reply.add(Quote(quote.text, "executive"))
        for quote in contradiction.frontline_quotes[:QUOTES_PER_SIDE]:
            reply.add(Quote(quote.text, "frontline"))

    if analysis.questions:
        reply.add(Heading("Question by question"))
        reply.add(
            Table(
                columns=["Question", "Executive", "Frontline", "Gap", "Reading"],
                rows=[_question_row(q) for q in analysis.questions],
                caption="Mean rating out of 5 (answers); ≈ marks a stance read from text.",
            )
        )

    blind_spots = [t for t in analysis.themes if t.raised_by != "both"]
    if blind_spots:
        reply.add(Heading("Blind spots"))
        for theme in blind_spots:
            who, other = (
                ("frontline staff", "executives")
                if theme.raised_by == "frontline"
                else ("executives", "frontline staff")
            )
            where = _where(theme, questions)
            reply.add(Text(f"Raised only by {who}{where}, never by {other}: {theme.title}."))
            for quote in theme.quotes[:1]:
                reply.add(Quote(quote.text, theme.raised_by))

    round_themes = [t for t in analysis.themes if t.question_id is None] or analysis.themes
    if round_themes:
        reply.add(Heading("Themes"))
        shown = sorted(round_themes, key=lambda t: -(t.executive + t.frontline))[:MAX_THEMES_SHOWN]
        reply.add(
            Table(
                columns=["Theme", "Executive", "Frontline", "Keywords"],
                rows=[
                    [t.title, str(t.executive), str(t.frontline), ", ".join(t.keywords)]
                    for t in shown
                ],
            )
        )
        for theme in shown:
            for quote in theme.quotes[:1]:
                reply.add(Quote(quote.text, _theme_attribution(theme)))

    if analysis.hidden:
        reply.add(Heading("Hidden by the anonymity floor"))
        reason = f"fewer than {analysis.min_group_size} answers: hidden to keep them anonymous"
        for group in analysis.hidden:
            question = questions.get(group.question_id)
            label = _short(question.question) if question else group.question_id
            reply.add(Note(f"{group.role} answers to “{label}”: {reason}."))

    if analysis.flagged:
        reply.add(Heading("Flagged answers"))
        reasons: dict[str, int] = {}
        for flag in analysis.flagged:
            reasons[flag.reason] = reasons.get(flag.reason, 0) + 1
        for reason, count in sorted(reasons.items()):
            reply.add(Note(f"{count} answer(s): {reason}. Counted, never quoted."))

    notes = list(analysis.notes)
    notes.append(f"{analysis.answers_analysed} answers analysed by the {analysis.engine} engine.")
    for note in notes:
        reply.add(Note(note))
    return reply


def _question_row(q: QuestionResult) -> list[str]:
    reading = (
        "hidden (anonymity floor)"
        if q.suppressed
        else "CONTRADICTION"
        if q.diverges
        else q.note or ("agree" if q.gap is not None else "not compared")
    )
    gap = "-" if q.gap is None else f"{q.gap:+.1f}"
    if q.p_value is not None and not q.suppressed:
        gap += " (p<0.001)" if q.p_value < 0.001 else f" (p={q.p_value:.3f})"
    return [
        _short(q.question, 60),
        _side(q.executive, q.basis, q.suppressed),
        _side(q.frontline, q.basis, q.suppressed),
        gap,
        reading,
    ]


def _side(side: SideFigures, basis: str, suppressed: bool) -> str:
    if side.n == 0 and suppressed:
        return "hidden"
    if side.n == 0:
        return "-"
    if side.mean_rating is not None and basis != "text":
        return f"{side.mean_rating:.1f} ({side.n})"
    if side.stance is not None:
        return f"≈{3 + 2 * side.stance:.1f} ({side.n})"
    if side.mean_rating is not None:
        return f"{side.mean_rating:.1f} ({side.n})"
    return f"- ({side.n})"


def _where(theme: Theme, questions: dict[str, QuestionResult]) -> str:
    if theme.question_id is None:
        return ""
    question = questions.get(theme.question_id)
    return f" on “{_short(question.question)}”" if question else ""


def _theme_attribution(theme: Theme) -> str:
    return f"{theme.title}: {theme.executive} executive, {theme.frontline} frontline"


def _short(text: str, limit: int = 80) -> str:
    text = " ".join(text.split())
    if len(text) <= limit:
        return text
    return text[: text.rfind(" ", 0, limit)] + "…"
