"""The verdicts, themes and report an executive reads: words that follow the figures,
themes titled in words with the floor applied, and each thing said once."""

from __future__ import annotations

import json

import pytest

from bot.analysis.loader import load_answers
from bot.analysis.models import Analysis, AnswerRecord
from bot.analysis.offline import _summary, _unquoted, analyse_offline, theme_title
from bot.analysis.render import headline, shortfall_line, to_reply
from bot.core.replies import Heading

QUESTION = "What are we doing for customers today that we were not doing a year ago?"


def _rated(executive: list[int], frontline: list[int]) -> list[AnswerRecord]:
    return [
        AnswerRecord(id=f"{role[0]}{i}", question_id="q", question=QUESTION, role=role, rating=r)
        for role, ratings in (("executive", executive), ("frontline", frontline))
        for i, r in enumerate(ratings)
    ]


@pytest.mark.parametrize(
    ("executive", "frontline", "verdict"),
    [
        # Opposite sides of the midpoint, significant: the "+0.9, p=0.004" case.
        ([4, 4, 4, 3, 4, 4], [3, 3, 2, 3, 3, 2, 3, 3, 3, 2, 3, 3, 3], "contradict"),
        # Both negative, far apart and significant: a difference of degree.
        ([3, 3, 2, 3, 2, 3], [1, 1, 1, 1, 1, 1, 1, 1], "differ"),
        # Nothing significant: agreement, whatever the small gap.
        ([2, 3, 2, 3, 2, 3], [2, 3, 3, 2, 2, 3, 2, 3], "agree"),
    ],
)
def test_the_verdict_word_follows_the_figures(embedder, executive, frontline, verdict):
    result = analyse_offline(_rated(executive, frontline), min_group=5, embedder=embedder)
    question = result.questions[0]
    assert question.verdict == verdict
    assert question.diverges == (verdict == "contradict")
    significant = question.p_value < 0.05
    assert significant == (verdict != "agree")
    if verdict == "contradict":
        low, high = sorted([question.executive.position, question.frontline.position])
        assert low <= 3 <= high
    # The gap is the difference of the two positions; shown, it is that of the shown means.
    assert question.gap == pytest.approx(question.executive.position - question.frontline.position)
    shown = round(question.executive.position, 1) - round(question.frontline.position, 1)
    assert question.gap_as_shown() == pytest.approx(shown)


def test_the_effect_size_is_cliffs_delta_for_ratings(embedder):
    result = analyse_offline(
        _rated([5, 5, 5, 5, 5], [1, 1, 1, 1, 1]), min_group=5, embedder=embedder
    )
    assert result.questions[0].effect_size == 1.0
    same = analyse_offline(_rated([3, 3, 3, 3, 3], [3, 3, 3, 3, 3]), min_group=5, embedder=embedder)
    assert same.questions[0].effect_size == 0.0 and same.questions[0].verdict == "agree"


TOPICS = {
    "hold": [
        "Customers wait on hold for forty minutes before anyone picks up.",
        "The phone queue is so long that people hang up and email instead.",
        "Hold times on the phone line are the first thing callers mention.",
        "Nobody answers the phones quickly, callers sit on hold for ages.",
        "Long waits on hold make every call start with an apology.",
    ],
    "price": [
        "Renewal prices went up again for customers who have been with us for years.",
        "Loyal customers pay more at renewal than new sign-ups pay for the same cover.",
        "The price rise at renewal is what long-standing customers complain about.",
        "Every renewal letter brings a higher premium for our oldest customers.",
        "Existing customers get a price increase while newcomers get discounts.",
    ],
}


def _worded(question_id: str, question: str) -> list[AnswerRecord]:
    answers = []
    for topic, texts in TOPICS.items():
        for i, text in enumerate(texts):
            role = "executive" if (i + (topic == "price")) % 2 else "frontline"
            answers.append(
                AnswerRecord(
                    id=f"{question_id}-{topic}-{i}",
                    question_id=question_id,
                    question=question,
                    role=role,
                    text=text,
                )
            )
    return answers


def test_themes_are_found_within_a_question_and_titled_in_words(embedder):
    answers = _worded("q1", "What do customers complain about most?")
    result = analyse_offline(answers, min_group=3, embedder=embedder)
    themes = [t for t in result.themes if t.question_id == "q1"]
    assert len(themes) == 2
    by_topic = {frozenset(i.split("-")[1] for i in t.answer_ids) for t in themes}
    assert by_topic == {frozenset({"hold"}), frozenset({"price"})}
    texts = {a.id: a.text for a in answers}
    for theme in themes:
        # The title is a phrase of one of its own answers, word for word.
        assert any(theme.title.rstrip("…") in texts[i] for i in theme.answer_ids), theme.title
        assert " / " not in theme.title and len(theme.title.split()) <= 13
        # Quotes say which side wrote them.
        assert theme.quotes and all(q.role in ("executive", "frontline") for q in theme.quotes)


def test_a_theme_never_counts_a_side_under_the_floor(embedder):
    answers = _worded("q1", "What do customers complain about most?")
    result = analyse_offline(answers, min_group=3, embedder=embedder)
    for theme in result.themes:
        for role in ("executive", "frontline"):
            count = sum(
                1 for i in theme.answer_ids if i in {a.id for a in answers if a.role == role}
            )
            shown = getattr(theme, role)
            assert shown == (None if 0 < count < 3 else count)
    report = to_reply(result).as_text()
    assert "fewer than 3" in report


def test_the_same_theme_in_two_questions_becomes_one(embedder):
    answers = _worded("q1", "What do customers complain about most?") + _worded(
        "q2", "What would make customers leave us?"
    )
    result = analyse_offline(answers, min_group=3, embedder=embedder)
    across = [t for t in result.themes if t.question_id is None]
    assert across, [(t.question_id, t.title) for t in result.themes]
    for theme in across:
        assert {i.split("-")[0] for i in theme.answer_ids} == {"q1", "q2"}


def test_a_title_skips_fillers_and_dependent_clauses():
    title = theme_title(
        ["Honestly, when they call, nobody answers the phone before the queue times out."],
        ["phone", "queue"],
    )
    assert title == "Nobody answers the phone before the queue times out"


def test_a_title_skips_a_clause_that_points_back():
    """ "They'd follow him" says nothing without the sentence before it."""
    title = theme_title(
        ["People come for Mr Hughes. They'd follow him, and he's not going anywhere."],
        ["follow", "going"],
    )
    assert title == "People come for Mr Hughes"


def test_a_title_skips_a_later_clause_whose_subject_is_in_the_one_before():
    """ "Didn't ask him for anything" does not say who didn't."""
    title = theme_title(
        ["I helped Mr Dunmore load his van on Saturday. Didn't ask him for anything."],
        ["ask", "anything"],
    )
    assert title == "I helped Mr Dunmore load his van on Saturday"


def test_a_title_is_scored_by_the_words_it_shows():
    """A keyword hidden past the cut says nothing to a reader: the whole first half of
    the sentence beats the whole sentence cut mid-phrase."""
    text = (
        "Imported stoneware is half our trade price and to most shoppers a mug is a mug "
        "whatever the glaze"
    )
    title = theme_title([text], ["mug", "glaze", "shoppers", "stoneware"])
    assert title == "Imported stoneware is half our trade price"


def test_a_title_skips_a_clause_that_leaves_its_verb_to_another():
    """ "The shop does" says nothing without "Home shoppers don't pick us"."""
    title = theme_title(["Home shoppers don't pick us, really. The shop does."], ["shop", "pick"])
    assert title == "Home shoppers don't pick us, really"


@pytest.mark.parametrize(
    ("text", "title"),
    [
        (
            "Porque ahora somos menos en la oficina, todo va más lento y los clientes esperan.",
            "Todo va más lento y los clientes esperan",
        ),
        (
            "Als een zending vertraging heeft, hoort de klant het pas als hij zelf belt.",
            "Hoort de klant het pas als hij zelf belt",
        ),
        (
            "Ehrlich gesagt, weil niemand im Büro zurückruft, gehen die meisten Kunden zur "
            "Konkurrenz.",
            "Gehen die meisten Kunden zur Konkurrenz",
        ),
    ],
)
def test_a_title_skips_dependent_clauses_in_other_languages(text, title):
    assert theme_title([text], []) == title


def test_a_title_never_ends_inside_a_quotation():
    """The "!" inside a short quotation does not end the clause; a quotation the title's
    length would cut is left out, never shown in half."""
    title = theme_title(
        ['only thing they get after is "we miss u! 20% off" spam, nothing else'],
        ["miss", "spam"],
    )
    assert title == 'Only thing they get after is "we miss u! 20% off" spam'
    long = "The renewal letter we send our oldest clients says “valued member of the family”"
    assert theme_title([long + " in bold."], ["renewal"]) == (
        "The renewal letter we send our oldest clients says…"
    )


@pytest.mark.parametrize(
    ("text", "title"),
    [
        # A part too long for a title gives way to what comes before its "and".
        (
            "They'd stay. Imported stoneware is half our trade price and to most shoppers "
            "a plate is a plate.",
            "Imported stoneware is half our trade price",
        ),
        # A figure's comma and a time's colon do not split a clause.
        (
            "Our 48,000 households on the priority register get a named contact and a "
            "call before any planned work.",
            "Our 48,000 households on the priority register get a named contact",
        ),
        ("The 22:40 from the depot didn't run again.", "The 22:40 from the depot didn't run again"),
        # A spoken filler is no opening; in a long voice note it starts the next thought.
        ("um yeah we've trained up on electric", "We've trained up on electric"),
        (
            "oh loads i mean i swap a bulb or top the screenwash for nothing like five times "
            "a day honestly",
            "I swap a bulb or top the screenwash for nothing like five…",
        ),
        # ...and the joining word it leaves at the end of a part goes.
        (
            "well um they ring the dealer if its a newer car or um whoever comes up top on google",
            "They ring the dealer if its a newer car",
        ),
    ],
)
def test_a_title_is_a_clause_that_stands_alone(text, title):
    assert theme_title([text], []) == title


def test_a_title_cut_short_does_not_end_on_a_word_that_leads_on():
    title = theme_title(
        ["The renewal letter goes out six weeks before the date with a price rise for all"],
        ["renewal", "letter"],
    )
    assert title == "The renewal letter goes out six weeks before the date…"


def _plain(text: str) -> str:
    return " ".join(text.replace("…", " ").split()).strip(" .").lower()


@pytest.mark.parametrize("company", ["glenmere-opticians", "fenwick-rowe-furniture"])
def test_each_side_is_said_in_its_own_words(embedder, company):
    """ "Executives believe …" is said in an executive's words (or the scale's end they
    lean to), never in the ironic answer of a frontline optician that sat in a theme of
    executives' praise; and a theme's title comes from the side that wrote most of it.
    (Before: 12 of 246 claims and 132 of 606 titles on the corpus broke this.)"""
    from collections import Counter

    from benchmarks.quality import CORPUS, question_infos

    labels = json.loads((CORPUS / f"{company}.labels.json").read_text(encoding="utf-8"))
    answers = load_answers(CORPUS / f"{company}.jsonl")
    infos = question_infos(labels, answers)
    ends = {i.id: {_plain(i.low_label or ""), _plain(i.high_label or "")} for i in infos}
    result = analyse_offline(
        answers, min_group=labels["min_group"], questions=infos, embedder=embedder
    )
    assert result.contradictions
    for contradiction in result.contradictions:
        qid = contradiction.question_id
        for role in ("executive", "frontline"):
            claim = _plain(getattr(contradiction, f"{role}_claim"))
            own = [_plain(a.text) for a in answers if a.question_id == qid and a.role == role]
            assert claim in ends[qid] or any(claim in text for text in own), (qid, role, claim)
    by_id = {a.id: a for a in answers}
    for theme in (t for t in result.themes if t.question_id is not None):
        sides = Counter(by_id[i].role for i in theme.answer_ids)
        most = {role for role, n in sides.items() if n == max(sides.values())}
        written = [_plain(by_id[i].text) for i in theme.answer_ids if by_id[i].role in most]
        assert any(_plain(theme.title) in text for text in written), (theme.title, sides)


def test_a_title_never_says_the_opposite_of_the_answer_it_is_cut_from(embedder):
    """Thornbury Legal's frontline: "Our communication is outstanding. Clients only hear
    from us when they ring us…" is irony. Cut from it, its first sentence says the
    opposite; a theme's title is never a phrase that, read alone, stands on the other
    side of the scale from its whole answer."""
    from benchmarks.quality import CORPUS, question_infos

    company = "thornbury-legal"
    labels = json.loads((CORPUS / f"{company}.labels.json").read_text(encoding="utf-8"))
    answers = load_answers(CORPUS / f"{company}.jsonl")
    result = analyse_offline(
        answers,
        min_group=labels["min_group"],
        questions=question_infos(labels, answers),
        embedder=embedder,
    )
    titles = [t.title for t in result.themes]
    assert "Our communication is outstanding" not in titles, titles
    assert "Clients only hear from us when they ring us" in titles, titles


def test_a_title_keeps_a_number_whole():
    title = theme_title(
        ["The local helpline has a great reputation and a 4.6 Trustpilot score. Ask anyone."],
        ["helpline", "trustpilot"],
    )
    assert title == "The local helpline has a great reputation and a 4.6 Trustpilot score"


@pytest.mark.parametrize(
    ("claim", "shown"),
    [
        ('The checker said "good outdoor"', 'The checker said "good outdoor"'),
        ("“Completely”", "Completely"),
        ('"Nothing has changed."', "Nothing has changed"),
        ("Newcomers get the best deals.", "Newcomers get the best deals"),
        ('"Loyal" customers pay "more"', '"Loyal" customers pay "more"'),
    ],
)
def test_a_claim_loses_only_the_quote_marks_that_wrap_it(claim, shown):
    assert _unquoted(claim) == shown


def test_both_sides_falling_short_is_said_on_the_first_screen(embedder):
    """Agreement is news when both sides agree the company falls short: it is said under
    the headline, with its figures, not left as an "agree" in the table behind "more",
    and what to ask next follows it."""
    low = analyse_offline(
        _rated([2, 2, 1, 2, 2, 2], [1, 2, 2, 1, 2, 2, 2]), min_group=5, embedder=embedder
    )
    assert low.questions[0].verdict == "agree"
    assert low.model_dump(mode="json")["questions"][0]["falls_short"] is True  # JSON says it too
    line = shortfall_line(low)
    assert line == (
        f"Both sides agree we fall short on “{QUESTION}” (executives 1.8/5, frontline 1.7/5)."
    )
    reply = to_reply(low)
    assert reply.as_text().split("\n\n")[1] == line
    assert reply.fold is not None and line in reply.as_text().split("Question by question")[0]
    assert "agree: both fall short" in reply.as_text()
    # What to ask next: why, and for the next round whether anything is being done.
    (follow_up,) = low.follow_ups
    assert (
        follow_up.text == "Both sides agree we fall short. What stops us, and who could change it?"
    )
    assert follow_up.ask.endswith("both sides said we fall short. Is anything being done about it?")
    assert (follow_up.low, follow_up.high) == ("Nothing that I can see", "Yes, and it is working")
    # Around the middle, or on opposite sides of it, it is not said.
    middling = analyse_offline(
        _rated([3, 3, 2, 3, 3, 3], [3, 2, 3, 3, 3, 3]), min_group=5, embedder=embedder
    )
    assert middling.questions[0].verdict == "agree" and shortfall_line(middling) == ""
    assert not middling.questions[0].falls_short
    apart = analyse_offline(
        _rated([4, 5, 4, 4, 5, 4], [1, 2, 1, 1, 2, 1]), min_group=5, embedder=embedder
    )
    assert shortfall_line(apart) == ""


@pytest.fixture(scope="module")
def fixture_analysis(labelled_answers, labels, question_infos, embedder) -> Analysis:
    infos = [info.model_copy(update={"why": f"Why, on {info.id}?"}) for info in question_infos]
    return analyse_offline(
        labelled_answers, min_group=labels["min_group"], questions=infos, embedder=embedder
    )


def test_the_report_leads_with_a_headline_and_ranks_contradictions(fixture_analysis):
    reply = to_reply(fixture_analysis)
    text = reply.as_text()
    first = text.split("\n\n")[0]
    assert first == headline(fixture_analysis)
    assert first.startswith("Executives and frontline contradict each other on 3 of 6 questions")
    # No heading without something under it.
    for block, following in zip(reply.blocks, reply.blocks[1:] + [None], strict=True):
        if isinstance(block, Heading):
            assert following is not None and not isinstance(following, Heading), block
    # Contradictions widest first (Cliff's delta), each in plain words, quotes by side.
    questions = {q.question_id: q for q in fixture_analysis.questions}
    shown = [c for c in fixture_analysis.contradictions]
    order = [text.index(f"“{questions[c.question_id].question[:40]}") for c in shown]
    # (to one decimal: near-ties are ranked by the gap a reader sees)
    effects = [round(abs(questions[c.question_id].effect_size), 1) for c in shown]
    ranked = [e for _, e in sorted(zip(order, effects, strict=True))]
    assert ranked == sorted(ranked, reverse=True)
    assert text.count("Executives believe “") == 3
    assert "— executive" in text and "— frontline" in text
    # What to ask next, from the bank's why.
    assert "What to ask next" in text and "Why, on " in text


def test_text_and_json_list_the_same_themes_and_say_things_once(fixture_analysis):
    reply = to_reply(fixture_analysis)
    text = reply.as_text()
    for theme in fixture_analysis.themes:
        assert text.count(f"• {theme.title} (") == 1, theme.title
    dumped = json.loads(json.dumps(fixture_analysis.model_dump()))
    assert len(dumped["themes"]) == text.count("\n• ") + text.startswith("• ")
    # The hidden group and the flagged answers are each stated once.
    assert text.count("Anonymity floor:") == 1
    assert text.count("Flagged answers") == 1
    assert not any("flagged" in n or "question group" in n for n in fixture_analysis.notes)
    # The first screen comes before "more".
    assert reply.fold is not None and 0 < reply.fold < len(reply.blocks)
    assert "Question by question" in {b.text for b in reply.more if isinstance(b, Heading)}


def test_a_themes_example_quote_is_the_answer_its_title_comes_from(fixture_analysis):
    for theme in fixture_analysis.themes:
        title = " ".join(theme.title.rstrip("…").split()).lower()
        said = [" ".join(q.text.split()).lower() for q in theme.quotes]
        if any(title in text for text in said):  # a title taken from a quoted answer...
            assert title in said[0], (theme.title, said)  # ...has that answer first
    titled = [t for t in fixture_analysis.themes if t.quotes and t.title.rstrip("…").lower()
              in " ".join(t.quotes[0].text.split()).lower()]  # fmt: skip
    assert len(titled) == len(fixture_analysis.themes)


def test_text_only_question_with_scales_is_read_from_meaning(embedder, renewal_round):
    """The issue's example, 6 answers a side written after tuning: the same sentiment,
    opposite claims."""
    answers, infos = renewal_round
    result = analyse_offline(answers, min_group=5, questions=infos, embedder=embedder)
    q = result.questions[0]
    assert q.basis == "text" and q.meaning_p_value is not None
    assert q.verdict == "contradict", q
    assert q.executive.position > 3 > q.frontline.position


@pytest.mark.parametrize(
    ("executive", "frontline", "basis", "said"),
    [
        # A mild gap astride the middle: each side leans to its end, it does not believe it.
        (3.5, 2.5, "ratings", "Executives lean towards “Completely”; the frontline leans towards"),
        (4.5, 2.6, "ratings", "Executives believe “Completely”; the frontline leans towards"),
        (4.5, 1.5, "ratings", "Executives believe “Completely”; the frontline sees “Not at all”"),
        # Read from words, positions sit nearer the middle than the answers: "believe".
        (3.5, 2.5, "text", "Executives believe “Completely”; the frontline sees “Not at all”"),
    ],
)
def test_a_claim_that_is_only_the_scales_end_leans_when_the_mean_is_mild(
    executive, frontline, basis, said
):
    from bot.analysis.models import QuestionResult, SideFigures

    result = QuestionResult(
        question_id="mission-match",
        question="Does what we do match our mission?",
        suppressed=False,
        diverges=True,
        gap=round(executive - frontline, 2),
        p_value=0.01,
        basis=basis,
        executive=SideFigures(n=6, position=executive),
        frontline=SideFigures(n=8, position=frontline),
    )
    claims = {"executive": "Completely", "frontline": "Not at all"}
    assert _summary(result, claims, {"Completely", "Not at all"}).startswith(said)
    # A claim in the side's own words is what they said, near the middle or not.
    claims = {"executive": "Mostly, bar the paperwork", "frontline": "Half of it"}
    assert _summary(result, claims, {"Completely", "Not at all"}).startswith(
        "Executives believe “Mostly, bar the paperwork”; the frontline sees “Half of it”"
    )
