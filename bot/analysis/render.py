"""Drawing an `Analysis` as a platform-neutral reply an executive can act on.

One screen first: a one-sentence headline, and a second when both sides agree the
company falls short somewhere (`shortfall_line`); the contradictions, widest first, each
in plain words with two quotes a side labelled with the side (a quote longer than a
line cut there, and given in full after "more"); the largest themes,
each saying who says it; and what to ask next. Then, behind "more" (`Reply.fold`):
every question's figures, every other theme, what the anonymity floor hid, what was
flagged, and the engine's notes. Every theme the JSON lists appears once, in one of
the two parts. Quotes are attributed to a side, never to a person; a side's count
under the floor is never shown.
When customers answered, the first screen says the reality gap in one line
(`reality_gap_line`); the three sides side by side, each reality gap with customers'
quotes, and whose prediction came closest wait behind "more" (`_add_customers`).
"""

from __future__ import annotations

from bot.analysis.customers import closest_prediction, closest_side
from bot.analysis.models import Analysis, Contradiction, QuestionResult, SideFigures, Theme
from bot.analysis.models import Quote as QuoteModel
from bot.analysis.offline import effect_order, shortfalls
from bot.core.anonymity import Floor
from bot.core.replies import Heading, Note, Quote, Reply, Table, Text, counted

#: Contradictions and themes drawn on the first screen; the rest go behind "more".
CONTRADICTIONS_FIRST = 3
THEMES_FIRST = 3
FOLLOW_UPS_FIRST = 2
#: Quotes shown per side of a contradiction; the JSON keeps them all.
QUOTES_PER_SIDE = 2
#: A theme's example quote is cut to this many characters (at a word boundary), so it
#: fits one line of a 100-column screen with its side. Contradictions quote in full.
QUOTE_CHARS = 78
#: On the first screen a contradiction's quote is cut to one line with its side; the
#: contradictions behind "more" and the JSON quote in full.
FIRST_QUOTE_CHARS = 82


def to_reply(analysis: Analysis, title: str | None = None, context: str = "") -> Reply:
    """The analysis as a report: one screen to act on, then the detail behind "more".

    `context` (who answered, say) is a muted line under the headline."""
    reply = Reply([Heading(title)] if title else [])
    questions = {q.question_id: q for q in analysis.questions}
    contradictions = _ranked(analysis.contradictions, questions)
    reply.add(Text(headline(analysis)))
    if context:
        reply.add(Note(context))
    short = shortfall_line(analysis)  # agreement that is news: both sides fall short
    if short:
        reply.add(Text(short))
    gap_line = reality_gap_line(analysis)  # the third voice, when customers answered
    if gap_line:
        reply.add(Text(gap_line))

    if contradictions:
        reply.add(Heading("Contradictions, widest first"))
    cut: list[QuoteModel] = []  # first-screen quotes cut to a line, given in full after "more"
    for number, contradiction in enumerate(contradictions[:CONTRADICTIONS_FIRST], start=1):
        cut += _contradiction(
            reply, number, contradiction, questions, quote_chars=FIRST_QUOTE_CHARS
        )

    themes = sorted(analysis.themes, key=lambda t: -len(t.answer_ids))
    if themes:
        reply.add(Heading("Themes"))
    for theme in themes[:THEMES_FIRST]:  # their example quotes wait behind "more"
        _theme(reply, theme, questions, analysis.min_group_size, quote=False)

    if analysis.follow_ups:
        reply.add(Heading("What to ask next"))
        for number, follow_up in enumerate(analysis.follow_ups[:FOLLOW_UPS_FIRST], start=1):
            question = questions.get(follow_up.question_id)
            about = f"On “{_short(question.question, 70)}”: " if question else ""
            reply.add(Text(f"{number}. {about}{follow_up.text}"))
        reply.add(Note("An admin adds one to the next round with `/integrity follow-up N`."))

    reply.fold = len(reply.blocks)  # what follows is "more"
    later = contradictions[CONTRADICTIONS_FIRST:]
    if later:
        reply.add(Heading("More contradictions"))
        for number, contradiction in enumerate(later, start=CONTRADICTIONS_FIRST + 1):
            _contradiction(reply, number, contradiction, questions, quote_chars=None)

    if cut:
        reply.add(Heading("The contradictions' quotes in full"))
        for quote in cut:
            reply.add(Quote(quote.text, quote.role or "answer"))

    if analysis.questions:
        reply.add(Heading("Question by question"))
        reply.add(
            Table(
                columns=["Question", "Executives", "Frontline", "Gap", "Verdict"],
                rows=[_question_row(q) for q in _ranked_questions(analysis.questions)],
                caption="Mean out of 5 (answers); ≈ read from the wording of text answers. "
                "Effect: Cliff's delta, -1 to 1.",
            )
        )

    _add_customers(reply, analysis)

    if themes[THEMES_FIRST:]:
        reply.add(Heading("More themes"))
        for theme in themes[THEMES_FIRST:]:
            _theme(reply, theme, questions, analysis.min_group_size)
    examples = [q for t in themes[:THEMES_FIRST] for q in t.quotes[:1]]
    if examples:
        reply.add(Heading("The main themes in their own words"))
        for quote in examples:
            reply.add(Quote(_short(quote.text, QUOTE_CHARS + 40), quote.role or "answer"))

    for number, follow_up in enumerate(
        analysis.follow_ups[FOLLOW_UPS_FIRST:], start=FOLLOW_UPS_FIRST + 1
    ):  # numbered on from the first screen's, as `/integrity follow-up N` counts them
        question = questions.get(follow_up.question_id)
        about = f"On “{_short(question.question, 70)}”: " if question else ""
        reply.add(Note(f"Also ask: {number}. {about}{follow_up.text}"))

    if analysis.hidden:
        by_reason: dict[str, list[str]] = {}
        for group in analysis.hidden:  # one reason, as a rule: listed once, with its groups
            question = questions.get(group.question_id)
            label = _short(question.question, 60) if question else group.question_id
            by_reason.setdefault(group.reason, []).append(f"{group.role} answers to “{label}”")
        for reason, labels in by_reason.items():
            reply.add(Note(f"Anonymity floor: {reason} — {'; '.join(labels)}."))
    if analysis.flagged:
        reasons: dict[str, int] = {}
        for flag in analysis.flagged:
            kind = flag.reason.split(":")[0]
            reasons[kind] = reasons.get(kind, 0) + 1
        listed = ", ".join(f"{count} {kind}" for kind, count in sorted(reasons.items()))
        reply.add(Note(f"Flagged answers ({listed}): counted, never quoted."))

    notes = list(analysis.notes)
    notes.append(f"{analysis.answers_analysed} answers analysed by the {analysis.engine} engine.")
    for note in notes:
        reply.add(Note(note))
    return reply


def headline(analysis: Analysis) -> str:
    """One sentence: how many questions the sides contradict each other on, and the widest."""
    compared = [q for q in analysis.questions if q.gap is not None]
    total = len(analysis.questions)
    hidden = sum(1 for q in analysis.questions if q.suppressed)
    questions = {q.question_id: q for q in analysis.questions}
    contradictions = _ranked(analysis.contradictions, questions)
    of = counted(total, "question")
    if hidden:
        of += f" ({hidden} hidden by the anonymity floor)"
    if contradictions:
        sentence = (
            f"Executives and frontline contradict each other on {len(contradictions)} of {of}"
        )
        widest = questions.get(contradictions[0].question_id)
        if widest is not None:
            sentence += f"; the widest gap is on “{_short(widest.question, 80)}”"
        return sentence + "."
    differ = [q for q in compared if q.verdict == "differ"]
    if differ:
        widest = min(differ, key=effect_order)
        return (
            f"No contradiction on {of}, but the sides differ on {len(differ)}; the widest "
            f"difference is on “{_short(widest.question, 80)}”."
        )
    if compared:
        return f"Executives and frontline agree on all {len(compared)} questions compared, of {of}."
    if total and hidden == total:
        every = "the question" if total == 1 else f"each of the {total} questions"
        return f"Nothing to compare: the anonymity floor hid a side of {every}."
    return f"Nothing to compare yet: no question of {of} has enough answers from both sides."


def shortfall_line(analysis: Analysis) -> str:
    """The questions both sides agree the company falls short on, in one sentence for the
    first screen (the lowest named, with its figures), or "" when there is none."""
    short = shortfalls(analysis.questions)
    if not short:
        return ""
    lowest = short[0]
    mark = "≈" if lowest.basis == "text" else ""
    figures = (
        f"executives {mark}{lowest.executive.position:.1f}/5, "
        f"frontline {mark}{lowest.frontline.position:.1f}/5"
    )
    sentence = f"Both sides agree we fall short on “{_short(lowest.question, 80)}” ({figures})"
    if len(short) == 2:
        sentence += f", and on “{_short(short[1].question, 60)}”"
    elif len(short) > 2:
        sentence += f", and on {counted(len(short) - 1, 'more question')}"
    return sentence + "."


def _contradiction(
    reply: Reply,
    number: int,
    contradiction: Contradiction,
    questions: dict[str, QuestionResult],
    quote_chars: int | None = QUOTE_CHARS,
) -> list[QuoteModel]:
    """Draw one contradiction; the quotes it had to cut to `quote_chars`."""
    cut: list[QuoteModel] = []
    question = questions.get(contradiction.question_id)
    label = _short(question.question, 90) if question else contradiction.question_id
    reply.add(Text(f"{number}. “{label}”\n{contradiction.summary}"))
    for role, quotes in (
        ("executive", contradiction.executive_quotes),
        ("frontline", contradiction.frontline_quotes),
    ):
        for quote in quotes[:QUOTES_PER_SIDE]:
            text = quote.text if quote_chars is None else _short(quote.text, quote_chars)
            if text != " ".join(quote.text.split()) and text != quote.text:
                cut.append(quote)
            reply.add(Quote(text, role))
    return cut


def _theme(
    reply: Reply,
    theme: Theme,
    questions: dict[str, QuestionResult],
    floor: int,
    *,
    quote: bool = True,
) -> None:
    where = ""
    if theme.question_id is not None and theme.question_id in questions:
        where = f" — on “{_short(questions[theme.question_id].question, 45)}”"
    elif theme.question_id is None:
        where = " — across questions"
    reply.add(Text(f"• {theme.title} ({who_says_it(theme, floor)}){where}"))
    if quote:
        for q in theme.quotes[:1]:
            reply.add(Quote(_short(q.text, QUOTE_CHARS), q.role or "answer"))


def who_says_it(theme: Theme, floor: int) -> str:
    """ "executives 6, frontline fewer than 5"; a side under the floor never gets a count."""
    counts = {role: getattr(theme, role) for role in ("executive", "frontline")}
    few = {role for role, n in counts.items() if n is None or Floor(floor).hides(n)}
    if few == {"executive", "frontline"}:
        said = f"fewer than {floor} from each side"
    else:
        parts = []
        for role, label in (("executive", "executives"), ("frontline", "frontline")):
            if role in few:
                parts.append(f"{label} fewer than {floor}")
            elif counts[role]:
                parts.append(f"{label} {counts[role]}")
        said = ", ".join(parts)
    if theme.raised_by != "both":
        other = "frontline" if theme.raised_by == "executive" else "executives"
        said += f"; never raised by {other}"
    return said


def _ranked(
    contradictions: list[Contradiction], questions: dict[str, QuestionResult]
) -> list[Contradiction]:
    """Contradictions by effect size, the widest first (the same measure for ratings and text)."""

    def size(c: Contradiction) -> tuple[float, float]:
        q = questions.get(c.question_id)
        return (0.0, 0.0) if q is None else effect_order(q)

    return sorted(contradictions, key=size)


def _ranked_questions(results: list[QuestionResult]) -> list[QuestionResult]:
    order = {"contradict": 0, "differ": 1, "agree": 2, "not compared": 3, "hidden": 4}
    return sorted(results, key=lambda q: (order.get(q.verdict, 3), *effect_order(q)))


def _question_row(q: QuestionResult) -> list[str]:
    executive = _side(q.executive, q.basis, q.suppressed)
    frontline = _side(q.frontline, q.basis, q.suppressed)
    if q.gap is None or q.suppressed:
        gap = "-"
    else:
        # The gap of the values as shown: rounding each side first keeps the three
        # numbers consistent (4.2 and 1.6 show a gap of +2.6, never +2.5).
        gap = f"{q.gap_as_shown():+.1f}"
        if q.p_value is not None:
            gap += " (p<0.001)" if q.p_value < 0.001 else f" (p={q.p_value:.3f})"
    return [_short(q.question, 60), executive, frontline, gap, _verdict(q)]


def _verdict(q: QuestionResult) -> str:
    if q.suppressed:
        return "hidden (anonymity floor)"
    effect = "" if q.effect_size is None else f", effect {q.effect_size:+.2f}"
    if q.verdict == "contradict":
        return f"CONTRADICT{effect}"
    if q.verdict == "differ":
        detail = q.note.split(":")[0] if q.note else "significant"
        return f"differ: {detail}{effect}"
    if q.verdict == "agree":
        return f"agree: both fall short{effect}" if q.falls_short else f"agree{effect}"
    return q.note or "not compared"


def _side(side: SideFigures, basis: str, suppressed: bool) -> str:
    if side.n == 0 and suppressed:
        return "hidden"
    if side.n == 0:
        return "-"
    mark = "≈" if basis == "text" else ""
    value = side.position if side.position is not None else side.mean_rating
    if value is None and side.stance is not None:
        value, mark = 3 + 2 * side.stance, "≈"
    if value is None:
        return f"- ({side.n})"
    return f"{mark}{value:.1f} ({side.n})"


def _short(text: str, limit: int = 80) -> str:
    text = " ".join(text.split())
    if len(text) <= limit:
        return text
    cut = text.rfind(" ", 0, limit)
    return text[: cut if cut > 0 else limit].rstrip(",;:") + "…"


def reality_gap_line(analysis: Analysis) -> str:
    """The reality gap in one sentence for the first screen, or "" when no customers
    answered: on how many questions executives are far from customers, the widest, and
    whose view customers bear out there."""
    answered = [q for q in analysis.questions if q.customers is not None and q.customers.n]
    if not answered:
        return ""
    of = f"{counted(len(answered), 'question')} customers answered"
    if not analysis.reality_gaps:
        return f"Reality gap: none; executives are within a point of customers on all {of}."
    widest = max(analysis.reality_gaps, key=lambda g: abs(g.gap))
    questions = {q.question_id: q for q in analysis.questions}
    question = questions.get(widest.question_id)
    label = f" on “{_short(question.question, 60)}”" if question else ""
    closer = {
        "frontline": "; the frontline is closer",
        "executive": "; executives are closer",
        "neither": "",
    }[widest.closest]
    return (
        f"Reality gap on {len(analysis.reality_gaps)} of {of}; widest{label}: executives "
        f"{widest.executive:.1f}, customers {widest.customers:.1f} out of 5{closer}."
    )


_CLOSEST = {
    "executive": "executives",
    "frontline": "frontline",
    "neither": "neither side",
    None: "-",
}


def _add_customers(reply: Reply, analysis: Analysis) -> None:
    """Executives, frontline and customers side by side, the reality gaps, and whose
    prediction of customers came closest."""
    answered = [q for q in analysis.questions if q.customers is not None]
    if answered:
        reply.add(Heading("Executives, frontline and customers"))
        reply.add(
            Table(
                columns=["Question", "Executive", "Frontline", "Customers", "Closest to customers"],
                rows=[
                    [
                        _short(q.question, 60),
                        _side(q.executive, q.basis, q.suppressed),
                        _side(q.frontline, q.basis, q.suppressed),
                        _side(q.customers, "ratings", True) if q.customers else "-",
                        _CLOSEST[closest_side(q)],
                    ]
                    for q in answered
                ],
                caption="Mean rating out of 5 (answers). Customers answered the same question "
                "in their own words.",
            )
        )
        reply.add(Heading("Reality gap"))
        if not analysis.reality_gaps:
            reply.add(
                Text(
                    "Executives' belief is within a point of what customers say on every question."
                )
            )
        questions = {q.question_id: q for q in analysis.questions}
        for number, gap in enumerate(analysis.reality_gaps, start=1):
            question = questions.get(gap.question_id)
            label = f"“{_short(question.question)}”: " if question else ""
            reply.add(Text(f"{number}. {label}{gap.summary}"))
            for quote in gap.customer_quotes:
                reply.add(Quote(quote.text, "customer"))
    if analysis.predictions is not None:
        _add_predictions(reply, analysis)


def _add_predictions(reply: Reply, analysis: Analysis) -> None:
    """ "What would our customers say?": each side's prediction beside what customers said."""
    predicted = [
        q
        for q in analysis.questions
        if q.executive_prediction is not None or q.frontline_prediction is not None
    ]
    reply.add(Heading("Who knows the customer best"))
    reply.add(
        Table(
            columns=["Question", "Executives predicted", "Frontline predicted", "Customers said",
                     "Closest prediction"],
            rows=[
                [
                    _short(q.question, 60),
                    _side(q.executive_prediction, "ratings", True)
                    if q.executive_prediction else "-",
                    _side(q.frontline_prediction, "ratings", True)
                    if q.frontline_prediction else "-",
                    _side(q.customers, "ratings", True) if q.customers else "-",
                    _CLOSEST[closest_prediction(q)],
                ]
                for q in predicted
            ],
            caption="What each side thinks customers would answer, out of 5 (predictions).",
        )
    )  # fmt: skip
    scores = analysis.predictions
    assert scores is not None
    if scores.questions == 0:
        reply.add(
            Note(
                "No customer answers to compare the predictions with yet: ask customers with "
                "`/integrity customers link`, or import a survey."
            )
        )
        return
    off = "; ".join(
        f"{who} were {error:.1f} off"
        for who, error in (
            ("executives", scores.executive_error),
            ("the frontline", scores.frontline_error),
        )
        if error is not None
    )
    verdict = {
        "executive": "executives know the customer best.",
        "frontline": "the frontline knows the customer best.",
        "neither": "neither side knows the customer clearly better.",
        None: "the other side gave too few predictions to compare.",
    }[scores.closest]
    over = counted(scores.questions, "question")
    reply.add(Text(f"Over {over}, on average {off} out of 5: {verdict}"))
