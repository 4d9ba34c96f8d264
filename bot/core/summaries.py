"""What executives read: the summary of a scope and the trend of a question.

`summary_reply` is the same in chat and when a closed round's summary is posted;
`trend_reply` draws the executive-frontline gap of one question over the rounds.
Both are platform-neutral `Reply` objects; the adapters render them.
"""

from __future__ import annotations

import difflib

from bot.core.domain import Question, Round
from bot.core.errors import NotFound, UsageError, typed
from bot.core.people import fold
from bot.core.replies import File, Heading, Note, Reply, Table, Text, counted
from bot.core.scope import Scope
from bot.core.service import IntegrityCheck


def summary_reply(service: IntegrityCheck, scope: Scope) -> Reply:
    """The summary of a scope, as executives read it (in chat or posted when a round closes).

    An open round shows its response rate only; what the floor hid is said once, by the
    analysis (sides hidden in every round) or in one note (sides hidden in some rounds).
    """
    from bot.analysis.render import to_reply  # loaded with the engine, on first summary

    context = ""
    if len(scope.rounds) == 1:
        round_ = scope.rounds[0]
        rates = service.response_rate(round_)
        state = "still open" if round_.is_open else "closed"
        context = (
            f"Round {round_.number} ({state}): {rates['executive']} executives and "
            f"{rates['frontline']} frontline staff answered."
        )
    reply = Reply([Heading(f"Integrity check: {scope.label}")])
    if all(r.is_open for r in scope.rounds):
        if context:
            reply.add(Text(context))
        reply.add(Text(open_rounds_sentence(scope.rounds)))
        return reply
    analysis, view = service.analysis(scope)
    heard = sum(q.customers.n for q in analysis.questions if q.customers)
    if heard:
        context = (
            f"{context} Customers: {counted(heard, 'answer')}{_sides_taken(analysis)}.".strip()
        )
    reply.extend(to_reply(analysis, context=context))
    partly = view.partly_hidden()
    if partly:
        questions = {q.id: q.text for q in service.questions(active_only=False)}
        where = "; ".join(
            f"{role} answers to “{_short(questions.get(qid, qid))}” in "
            f"round{'s' if len(numbers) > 1 else ''} {', '.join(map(str, numbers))}"
            for (qid, role), numbers in partly.items()
        )
        reply.add(Note(f"Left out of some rounds ({view.reason}): {where}."))
    if view.still_open:
        reply.add(Note(open_rounds_sentence(view.still_open)))
    return reply


def open_rounds_sentence(rounds: list[Round]) -> str:
    """Why an open round shows its response rate and nothing else."""
    numbers = ", ".join(str(r.number) for r in rounds)
    which = f"Round {numbers} is" if len(rounds) == 1 else f"Rounds {numbers} are"
    return (
        f"{which} still open: answers are shown once a round closes, so that no one's "
        "answer can be picked out by comparing what is shown before and after it."
    )


def _short(text: str, limit: int = 60) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: text.rfind(" ", 0, limit)] + "…"


def _sides_taken(analysis) -> str:
    """Whose view the customers bore out, question by question, as a clause."""
    from bot.analysis.customers import closest_side

    sides = [closest_side(q) for q in analysis.questions]
    counts = [
        f"with {label} on {sides.count(side)}"
        for side, label in (("frontline", "the frontline"), ("executive", "executives"))
        if sides.count(side)
    ]
    if not counts:
        return ""
    compared = sum(1 for side in sides if side is not None)
    return f"; of {counted(compared, 'question')} compared, they side " + " and ".join(counts)


def closed_round_summary(service: IntegrityCheck, round_: Round) -> Reply:
    """The summary posted when a round closes, with the give-away question's trend chart."""
    # matplotlib takes a second to load: only when a summary is due, so a restarted
    # scheduler's first tick is already sending check-ins by then.
    from bot.core.trends import trend_chart

    reply = summary_reply(service, Scope(rounds=[round_], label=f"round {round_.number}"))
    reply.extend(trend_chart(service))
    return reply


def trend_words(rest: str) -> tuple[list[str], list[str]]:
    """`[QUESTION] [weeks N]` split into the question's words and the scope's (default all)."""
    words = rest.split()
    if len(words) >= 2 and words[-2] == "weeks":
        return words[:-2], words[-2:]
    return words, ["all"]


def progress_line(service: IntegrityCheck, scope: Scope) -> str | None:
    """What a summary or a trend says while it works ("Analysing 76 answers from round
    3…"): a count, no analysis, so a platform can show it at once. None if empty."""
    count = service.answer_count(scope)
    if not count:
        return None
    return f"Analysing {count:,} answer{'s' if count != 1 else ''} from {scope.label}…"


def find_question(word: str, questions: list[Question]) -> Question:
    """The question `word` names: its id, the start of its id, or words of its text;
    otherwise NotFound naming the closest question and listing the ids."""
    key = fold(word)
    for matches in (
        [q for q in questions if q.id == key],
        [q for q in questions if q.id.startswith(key)],
        [q for q in questions if key in fold(q.text)],
    ):
        if len(matches) == 1:
            return matches[0]
        if len(matches) > 1:
            ids = ", ".join(q.id for q in matches)
            raise UsageError(f"{typed(word)} matches more than one question: {ids}. Use one id.")
    names: dict[str, Question] = {q.id: q for q in questions}
    for q in questions:  # the text's words too: "hold music" is nearer a text than an id
        names.setdefault(fold(q.text), q)
    close = difflib.get_close_matches(key, list(names), n=1, cutoff=0.3)
    best = names[close[0]] if close else None
    hint = f" The closest is `{best.id}`: “{best.text}”." if best else ""
    raise NotFound(
        f"There is no question {typed(word)}.{hint} "
        f"Question ids: {', '.join(q.id for q in questions)}."
    )


def trend_reply(service: IntegrityCheck, rest: str, *, usage: str) -> Reply:
    """`[QUESTION] [weeks N]`: the gap over the rounds as a table and two charts."""
    # matplotlib is heavy: loaded on the first trend, not at start-up.
    from bot.core.trends import ANCHOR, build_trend, gap_chart, sides_chart

    words, scope_words = trend_words(rest)
    if any(w.lower() == "weeks" for w in words):
        raise UsageError(f"`weeks` takes a whole number and comes last, e.g. `weeks 8`. {usage}")
    known = {q.id: q for q in service.questions(active_only=False)}
    question_id = find_question(" ".join(words), list(known.values())).id if words else ANCHOR
    scope = service.scope(None, " ".join(scope_words), usage=usage.removeprefix("Usage: "))
    rounds = [r for r in scope.rounds if question_id in r.question_ids]
    if not rounds:
        raise UsageError(f"No round in {scope.label} asked {question_id!r}.")
    if all(r.is_open for r in rounds):
        raise UsageError(
            f"No closed round in {scope.label} asked {question_id!r} yet. "
            + open_rounds_sentence(rounds)
        )
    trend = build_trend(service, scope.rounds)
    points = trend.questions.get(question_id, [])
    floor = service.settings.floor
    reply = Reply([Heading(f"Trend: {known[question_id].text}")])
    rows = [
        [
            str(p.round_number), p.opened_on, _score(p.executive), _score(p.frontline),
            f"{p.gap:+.1f}" if p.gap is not None else "hidden (under the floor)",
            "-" if p.gap is None else "text" if p.basis == "text" else "ratings",
        ]
        for p in points
    ]  # fmt: skip
    columns = ["round", "opened", "executives", "frontline", "gap", "basis"]
    if any(p.customers is not None for p in points):
        columns.insert(4, "customers")
        for row, p in zip(rows, points, strict=True):
            row.insert(4, _score(p.customers))
    reply.add(Table(columns, rows))
    if trend.year_ago is not None and points and points[-1].gap is not None:
        then = build_trend(service, [trend.year_ago]).questions.get(question_id, [])
        if then and then[0].gap is not None:
            reply.add(
                Text(
                    f"Same time last year (round {then[0].round_number}, {then[0].opened_on}):"
                    f" gap {then[0].gap:+.1f}; now {points[-1].gap:+.1f}."
                )
            )
    latest = scope.rounds[-1]
    rates = trend.response[latest.number]
    reply.add(
        Text(
            f"Response in round {latest.number}: executives {rates['executive']}, "
            f"frontline {rates['frontline']}."
        )
    )
    if latest.is_open:
        reply.add(Note(open_rounds_sentence([latest])))
        latest = [r for r in scope.rounds if not r.is_open][-1]
    reply.add(
        File(
            f"trend-{question_id}.png",
            gap_chart(known[question_id].text, points, floor.size),
            "image/png",
            title=f"Executives vs frontline over time: {question_id}",
        )
    )
    last_points = [
        (qid, pts[-1])
        for qid, pts in trend.questions.items()
        if pts[-1].round_number == latest.number and pts[-1].gap is not None
    ]
    if last_points:
        reply.add(
            File(
                f"round-{latest.number}-sides.png",
                sides_chart(
                    f"Round {latest.number}: executives vs frontline",
                    [known[qid].text for qid, _ in last_points],
                    [p.executive for _, p in last_points],
                    [p.frontline for _, p in last_points],
                    [p.customers for _, p in last_points],
                ),
                "image/png",
                title=f"Round {latest.number}, question by question",
            )
        )
    if trend.hidden_points:
        reply.add(
            Note(
                f"Rounds where a side had fewer than {floor.size} answers are left out, "
                "to keep them anonymous."
            )
        )
    return reply


def _score(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}"
