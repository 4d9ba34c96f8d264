"""The anonymity floor, property-based: no output ever reveals a group under the floor."""

from __future__ import annotations

from collections import Counter

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.core import anonymity
from bot.core.anonymity import Floor
from bot.core.domain import Person
from bot.core.errors import ConfigError
from bot.core.service import IntegrityCheck
from bot.core.settings import Settings
from bot.store import Store
from tests.conftest import make_people


def test_pseudonym_is_keyed_per_round_and_per_person():
    ann = Person(1, "slack", "T", "U1", "Ann", "frontline")
    bob = Person(2, "slack", "T", "U2", "Bob", "frontline")
    key = b"k" * 32
    assert anonymity.pseudonym(key, ann, 1) == anonymity.pseudonym(key, ann, 1)
    assert anonymity.pseudonym(key, ann, 1) != anonymity.pseudonym(key, ann, 2)
    assert anonymity.pseudonym(key, ann, 1) != anonymity.pseudonym(key, bob, 1)
    assert anonymity.pseudonym(key, ann, 1) != anonymity.pseudonym(b"j" * 32, ann, 1)


def test_the_floor_is_parsed_once_never_below_three_and_says_what_it_hid():
    assert Floor() == Floor.parse("") == Floor.parse(None) == Floor(5)
    assert Floor.parse(" 7 ").size == 7 and int(Floor(4)) == 4
    for bad in (2, 0, -1, "1"):
        with pytest.raises(ConfigError, match="never below 3"):
            Floor.parse(bad, setting="--min-group")
    with pytest.raises(ValueError, match="never below 3"):  # the engines' contract too
        Floor(2)
    with pytest.raises(ConfigError, match="--min-group must be a whole number"):
        Floor.parse("3.5", setting="--min-group")
    with pytest.raises(ConfigError, match="whole number"):
        Floor(True)
    assert Floor(4).sentence == "fewer than 4 answers: hidden to keep them anonymous"
    assert [Floor(3).hides(n) for n in range(5)] == [False, True, True, False, False]


def test_apply_hides_whole_groups_under_the_floor():
    items = ["a1", "a2", "a3", "b1", "c1", "c2"]
    kept, hidden = Floor(3).apply(items, lambda item: item[0])
    assert kept == ["a1", "a2", "a3"] and hidden == {"b", "c"}


def test_complementary_suppression_leaves_no_small_remainder():
    floor = Floor(3)
    # Support 5, Sales 3, Ops 1: hiding Ops alone would leave all - Support - Sales = Ops.
    assert floor.suppress({"Support": 5, "Sales": 3, "Ops": 1}) == {"Ops", "Sales"}
    assert floor.suppress({"Support": 5, "Sales": 1}) == {"Sales", "Support"}
    assert floor.suppress({"Support": 5, "Sales": 4}) == set()
    assert floor.suppress({"Support": 5, "Sales": 1, "Ops": 2}) == {"Sales", "Ops"}
    assert floor.suppress({"Support": 5, "Sales": 0}) == set()


@settings(max_examples=300, deadline=None)
@given(
    parts=st.dictionaries(st.text(max_size=3), st.integers(0, 9), max_size=6),
    size=st.integers(3, 6),
)
def test_whatever_is_shown_the_rest_is_empty_or_at_least_the_floor(parts, size):
    floor = Floor(size)
    hidden = floor.suppress(parts)
    shown = {part: n for part, n in parts.items() if part not in hidden}
    assert all(n == 0 or n >= size for n in shown.values())
    rest = sum(parts.values()) - sum(shown.values())
    if sum(parts.values()) >= size:
        assert rest == 0 or rest >= size
    else:  # the whole group is itself under the floor: nothing of it is shown
        assert all(n == 0 for n in shown.values())


# For each (role, team) a number of people who answer, and the floor in force.
group_sizes = st.dictionaries(
    st.tuples(st.sampled_from(["executive", "frontline"]), st.sampled_from(["A", "B"])),
    st.integers(min_value=0, max_value=8),
    min_size=1,
)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(sizes=group_sizes, floor=st.integers(min_value=3, max_value=7))
@pytest.mark.slow
def test_export_never_shows_a_group_under_the_floor(tmp_path_factory, sizes, floor):
    path = tmp_path_factory.mktemp("floor") / "f.db"
    settings_ = Settings(db_path=path, secret=b"s" * 32, min_group=floor, questions_per_round=2)
    store = Store(path)
    service = IntegrityCheck(store, settings_)
    boss = store.add_person("t", "W", "boss", "Boss", "executive", is_admin=True, team="X")
    round_ = service.start_round(boss)
    texts: dict[tuple[str, str | None], list[str]] = {}
    for (role, team), size in sizes.items():
        for i in range(size):
            person = store.add_person("t", "W", f"{role}{team}{i}", "p", role, team=team)
            text = f"secret-{role}-{team}-{i}"
            service.record_answer(person, "give-away", rating=1 + i % 5, text=text)
            texts.setdefault((role, team), []).append(text)
    assert service.export_rows(boss, service.scope(boss, "round 1")) == []  # open: nothing
    service.close_round(boss)
    for team in [None, *(t for t in ("A", "B") if t in store.teams())]:
        scope = service.scope(boss, "last" + (f" {team}" if team else ""))
        rows = service.export_rows(boss, scope)
        per_role = Counter(r["role"] for r in rows)
        per_team = Counter((r["role"], r["team"]) for r in rows if r["team"])
        # Every group that is shown, in any split, has at least `floor` answers.
        assert all(n >= floor for n in per_role.values())
        assert all(n >= floor for n in per_team.values())
        shown = {r["text"] for r in rows}
        for role in ("executive", "frontline"):
            in_scope = [
                t for (r, tm), ts in texts.items() if r == role and team in (None, tm) for t in ts
            ]
            rest = sum(len(ts) for (r, tm), ts in texts.items() if r == role and tm != team)
            if team is None:
                rest = 0
            if len(in_scope) < floor or 0 < rest < floor:  # the rest of all teams: too few
                assert not shown & set(in_scope)
            else:
                assert set(in_scope) <= shown
    store.close()
    assert round_.number == 1


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    sizes=st.dictionaries(
        st.sampled_from(["executive", "frontline"]), st.integers(min_value=0, max_value=8)
    ),
    floor=st.integers(min_value=3, max_value=6),
)
@pytest.mark.slow
def test_the_summary_text_never_quotes_or_counts_a_group_under_the_floor(
    tmp_path_factory, sizes, floor
):
    """End to end: store → core → analysis engine → the summary an executive reads."""
    from bot.core.commands import Commands

    path = tmp_path_factory.mktemp("summary") / "s.db"
    settings_ = Settings(db_path=path, secret=b"s" * 32, min_group=floor, questions_per_round=1)
    store = Store(path)
    service = IntegrityCheck(store, settings_)
    boss = store.add_person("t", "W", "boss", "Boss", "executive", is_admin=True)
    service.start_round(boss)
    written: dict[str, list[str]] = {}
    for role, size in sizes.items():
        for i in range(size):
            person = store.add_person("t", "W", f"{role}{i}", "p", role)
            tone = "wonderful loyal happy" if role == "executive" else "angry waiting leaving"
            text = f"Zq{role[:4]}{i} customers are {tone} number {i}."
            service.record_answer(
                person, "give-away", rating=5 if role == "executive" else 1, text=text
            )
            written.setdefault(role, []).append(text)
    service.close_round(boss)
    summary = Commands(service).handle(boss, "/integrity summary").as_text()
    for role, texts in written.items():
        marker = f"Zq{role[:4]}"
        if len(texts) < floor:
            assert marker not in summary, (role, len(texts), floor)
        elif all(len(written.get(r, [])) >= floor for r in ("executive", "frontline")):
            # Both sides are big enough and disagree completely: each is quoted.
            assert marker in summary, (role, len(texts), floor)
    store.close()


def _answer_all(service, people, rating, text):
    for i, person in enumerate(people):
        service.record_answer(person, "give-away", rating=rating, text=f"{text} {i}")


def test_all_teams_minus_one_team_never_leaves_the_one_sales_answer(service, commands, admin):
    """The issue's attack: `1.2 (6)` for all teams, `1.0 (5)` for Support, gives Sales' one 2."""
    support = make_people(service, "frontline", 5, team="Support")
    (sales,) = make_people(service, "frontline", 1, team="Sales")
    service.start_round(admin)
    _answer_all(service, support, 1, "Support hold times")
    service.record_answer(sales, "give-away", rating=2, text="Only Sales says this")
    service.close_round(admin)
    everyone = commands.handle(admin, "/integrity summary").as_text()
    assert "1.2 (6)" in everyone  # all six, the rest of the group being empty
    for team in ("Support", "Sales"):
        view = commands.handle(admin, f"/integrity summary last {team}").as_text()
        assert "1.0 (5)" not in view and "Only Sales" not in view and "Support hold" not in view
        assert "hidden to keep them anonymous" in view
        rows = service.export_rows(admin, service.scope(admin, f"last {team}"))
        assert rows == []
    rows = service.export_rows(admin, service.scope(admin, "last"))
    assert len(rows) == 6 and {r["team"] for r in rows} == {""}  # no blank marks Sales' row


def test_an_open_round_shows_the_same_before_and_after_one_more_answer(service, commands, admin):
    frontline = make_people(service, "frontline", 6, team="Support")
    round_ = service.start_round(admin)
    service.deliver(round_, frontline, lambda *_: "sent")
    _answer_all(service, frontline[:5], 2, "Before")

    def views() -> list:
        scope = service.scope(admin, "round 1")
        summary = commands.handle(admin, "/integrity summary round 1").as_text()
        return [service.export_rows(admin, scope), summary.split("answered.")[1]]

    before = views()
    assert before[0] == [] and "2.0" not in before[1] and "still open" in before[1]
    assert "Before" not in before[1]
    service.record_answer(frontline[5], "give-away", rating=5, text="One more")
    assert views() == before
    assert "no closed round" in commands.handle(admin, "/integrity trend").as_text().lower()
    service.close_round(admin)
    assert "2.5 (6)" in commands.handle(admin, "/integrity summary round 1").as_text()


def test_response_counts_under_the_floor_are_not_shown(service, commands, admin):
    executives = make_people(service, "executive", 8)
    frontline = make_people(service, "frontline", 20)
    round_ = service.start_round(admin)
    service.deliver(round_, executives + frontline, lambda *_: "sent")
    _answer_all(service, frontline[:12], 3, "Front")
    rates = service.response_rate(round_)
    assert str(rates["executive"]) == "0 of 8" and str(rates["frontline"]) == "12 of 20"
    assert str(rates["all"]) == "12 of 28" and rates["all"].percent == "43%"
    _answer_all(service, executives[:2], 4, "Exec")
    rates = service.response_rate(round_)
    assert str(rates["executive"]) == "fewer than 5 of 8" and rates["executive"].percent == "-"
    assert str(rates["all"]) == "some of 28"  # 14 would give the 2 away
    status = commands.handle(admin, "/integrity status").as_text()
    assert "fewer than 5" in status and " 2 " not in status and "14" not in status
    _answer_all(service, executives[2:5], 4, "Exec more")
    assert str(service.response_rate(round_)["all"]) == "17 of 28"


def test_an_answer_without_a_check_in_does_not_show_while_its_role_s_count_is_hidden(
    service, commands, admin
):
    """8 frontline asked, 3 answered: "fewer than 5 of 8". Someone with no check-in answers
    in the terminal: the line must not become "of 9", the answer the floor hides."""
    executives = make_people(service, "executive", 6)
    frontline = make_people(service, "frontline", 9)
    round_ = service.start_round(admin)
    service.deliver(round_, executives + frontline[:8], lambda *_: "sent")
    _answer_all(service, frontline[:3], 2, "Front")
    before = commands.handle(admin, "/integrity status").as_text()
    commands.handle(frontline[8], "/integrity answer 1 1 nobody asked me")
    assert service.response_counts(round_)["frontline"]["answered"] == 4
    assert commands.handle(admin, "/integrity status").as_text() == before
    assert str(service.response_rate(round_)["frontline"]) == "fewer than 5 of 8"
    _answer_all(service, frontline[3:4], 2, "Front")  # 5 answered: exact, with the unasked
    assert str(service.response_rate(round_)["frontline"]) == "5 of 9"


def test_a_summary_says_what_the_floor_hid_and_nothing_false(service, commands, admin):
    frontline = make_people(service, "frontline", 3)
    service.start_round(admin)
    _answer_all(service, frontline, 1, "Too few to show")
    service.close_round(admin)
    text = commands.handle(admin, "/integrity summary").as_text()
    assert "No clear contradiction" not in text and "to compare with" not in text
    assert "Nothing to compare: the anonymity floor hid a side of each of the 4 questions" in text
    assert "Too few to show" not in text
    # Said once: the floor's reason, then each side of each question it hid.
    assert text.count("fewer than 5 answers") == 1 and text.count(" answers to “") == 2 * 4
