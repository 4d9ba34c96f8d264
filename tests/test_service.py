"""The core service: rounds, delivery, answers and their validation, proposals, forget-me."""

from __future__ import annotations

from datetime import timedelta

import pytest

from bot.core.errors import InvalidAnswer, NotAllowed, UsageError
from bot.core.service import MAX_ANSWER_CHARS
from tests.conftest import make_people


def test_start_round_asks_the_anchor_and_refuses_a_second_open_round(service, admin):
    round_ = service.start_round(admin)
    assert round_.number == 1 and round_.question_ids[0] == "give-away"
    assert len(round_.question_ids) == service.settings.questions_per_round
    with pytest.raises(UsageError, match="Round 1 is still open"):
        service.start_round(admin)


def test_frontline_cannot_start_or_close_a_round(service):
    (worker,) = make_people(service, "frontline", 1)
    with pytest.raises(NotAllowed, match="executives and admins"):
        service.start_round(worker)
    service.start_round()
    with pytest.raises(NotAllowed):
        service.close_round(worker)


def test_deliver_sends_each_person_once_and_retries_failures(service):
    people = make_people(service, "frontline", 3)
    round_ = service.start_round()
    sent = []

    def flaky(person, _round, questions):
        if person.user_id.endswith("1") and not any(p == person.id for p, _ in sent):
            sent.append((person.id, "boom"))
            raise ConnectionError("platform down")
        sent.append((person.id, len(questions)))
        return f"msg-{person.id}"

    report = service.deliver(round_, people, flaky)
    assert (report.sent, report.already, len(report.failed)) == (2, 0, 1)
    again = service.deliver(round_, people, flaky)
    assert (again.sent, again.already, again.failed) == (1, 2, [])
    delivered = [(p, n) for p, n in sent if n != "boom"]
    assert sorted(p for p, _ in delivered) == sorted(p.id for p in people)  # nobody twice
    assert {d["status"] for d in service.store.deliveries(round_.id)} == {"sent"}


def test_an_answer_is_edited_until_the_round_closes(service, clock):
    (worker,) = make_people(service, "frontline", 1)
    round_ = service.start_round()
    service.record_answer(worker, "give-away", rating=2)
    service.record_answer(worker, "give-away", text="They would miss nothing.")
    edited = service.record_answer(worker, "give-away", rating=1)
    assert (edited.rating, edited.text) == (1, "They would miss nothing.")
    assert service.store.db.table("answers").count == 1
    clock.now += timedelta(days=6)
    assert [r.number for r in service.close_due_rounds()] == [round_.number]
    with pytest.raises(InvalidAnswer, match="can no longer be changed"):
        service.record_answer(worker, "give-away", rating=5, round_=round_)  # an old message
    with pytest.raises(InvalidAnswer, match="No round is open"):
        service.record_answer(worker, "give-away", rating=5)
    assert service.store.answer(edited.id).rating == 1


@pytest.mark.parametrize("rating", [0, 6, -1, True, "4", 2.5])
def test_a_bad_rating_is_refused_and_nothing_is_stored(service, rating):
    (worker,) = make_people(service, "frontline", 1)
    service.start_round()
    with pytest.raises(InvalidAnswer, match="1 to 5"):
        service.record_answer(worker, "give-away", rating=rating)
    assert service.store.db.table("answers").count == 0


def test_an_answer_over_the_limit_is_refused_with_the_limit_named(service):
    (worker,) = make_people(service, "frontline", 1)
    service.start_round()
    with pytest.raises(InvalidAnswer, match="3,000"):
        service.record_answer(worker, "give-away", text="x" * (MAX_ANSWER_CHARS + 1))
    assert service.store.db.table("answers").count == 0
    ok = service.record_answer(worker, "give-away", text="y" * MAX_ANSWER_CHARS)
    assert len(ok.text) == MAX_ANSWER_CHARS


def test_answers_carry_the_day_and_a_pseudonym_never_the_person(service, clock):
    (worker,) = make_people(service, "frontline", 1, team="Support")
    service.start_round()
    service.record_answer(worker, "give-away", rating=2, text="Hold times are awful.")
    row = next(service.store.db.table("answers").rows)
    assert row["answered_on"] == clock.now.date().isoformat()
    flat = " ".join(str(v) for v in row.values())
    assert worker.user_id not in flat and worker.display_name not in flat
    assert str(worker.id) != row["pseudonym"] and len(row["pseudonym"]) == 64


def test_pseudonyms_differ_between_rounds_so_answers_cannot_be_linked(service, admin, clock):
    (worker,) = make_people(service, "frontline", 1)
    first = service.start_round()
    service.record_answer(worker, "give-away", rating=2)
    service.close_round(admin)
    clock.now += timedelta(days=7)
    service.start_round()
    service.record_answer(worker, "give-away", rating=3)
    pseudonyms = {r["pseudonym"] for r in service.store.db.table("answers").rows}
    assert len(pseudonyms) == 2
    assert service.my_answers(worker, first)["give-away"].rating == 2


def test_forget_me_removes_answers_proposals_and_identity(service, admin, clock):
    worker, other = make_people(service, "frontline", 2)
    service.start_round()
    service.record_answer(worker, "give-away", rating=2, text="no")
    service.record_answer(worker, "best-experience", rating=3)
    service.record_answer(other, "give-away", rating=4)
    service.propose(worker, "Do you read customer complaints yourself?")
    service.first_sighting("test:event:1")
    removed = service.forget_me(worker)
    assert removed["answers"] == 2 and removed["proposals"] == 1 and removed["people"] == 1
    assert removed["events"] == 1  # de-duplication keys go too
    assert service.store.db.table("answers").count == 1  # the other person's answer stays
    assert service.store.person("test", "W", worker.user_id) is None


def test_forget_me_removes_the_check_in_record_too(service):
    (worker,) = make_people(service, "frontline", 1)
    round_ = service.start_round()
    service.deliver(round_, [worker], lambda *_: "msg-1")
    assert service.forget_me(worker)["deliveries"] == 1
    assert service.store.db.table("deliveries").count == 0


def test_forget_me_takes_them_off_the_summary_posts_still_owed(service, admin):
    executive, other = make_people(service, "executive", 2)
    service.start_round()
    round_ = service.close_round(summaries=[("test", "W", "executives")])
    (post,) = service.store.owed_summary_posts(["test"])
    for person in (executive, other):  # reached by a try; the post is still owed to a third
        service.store.record_summary_recipient(post["id"], f"@{person.user_id}")

    assert service.forget_me(executive)["summary_recipients"] == 1
    (post,) = service.store.summary_posts(round_.id)
    assert post["posted_to"] == [f"@{other.user_id}"]


def test_after_forget_me_the_same_person_starts_afresh(service):
    """Issue 15: a Person object held from before forget-me must not break the next answer."""
    (worker,) = make_people(service, "frontline", 1)
    round_ = service.start_round()
    service.deliver(round_, [worker], lambda *_: "msg-1")
    service.record_answer(worker, "give-away", rating=2, text="before")
    service.forget_me(worker)
    # The stale object still answers (nothing that names a person is written with it)...
    service.record_answer(worker, "give-away", rating=1, text="still here")
    # ... and `refresh` gives the new record an adapter should act as.
    assert service.store.person("test", "W", worker.user_id) is None
    again = service.refresh(worker)
    assert service.store.person_by_id(again.id) == again and again.role == "frontline"
    assert service.refresh(again) == again
    assert [a.text for a in service.my_answers(again, round_).values()] == ["still here"]


def test_record_answers_saves_a_form_whole_in_one_transaction_or_not_at_all(service):
    (worker,) = make_people(service, "frontline", 1)
    round_ = service.start_round()
    first, second = round_.question_ids[:2]
    with service.store.traced() as statements:
        saved = service.record_answers(
            worker, round_, {first: (4, "  Fine.  "), second: (2, "Slow refunds.")}
        )
    commits = [sql for sql in statements if sql.strip().upper().startswith("COMMIT")]
    assert [(a.question_id, a.rating, a.text) for a in saved] == [
        (first, 4, "Fine."),
        (second, 2, "Slow refunds."),
    ]
    assert len(commits) == 1
    # One bad answer in a form: nothing of the form is stored, and the error names it.
    with pytest.raises(InvalidAnswer, match="1 to 5"):
        service.record_answers(worker, round_, {first: (5, "changed"), second: (9, "")})
    assert service.my_answers(worker, round_)[first].rating == 4
    with pytest.raises(InvalidAnswer, match="not part of round"):
        service.record_answers(worker, None, {first: (3, ""), "nope": (3, "")})


def test_response_rates_are_worked_out_from_pseudonyms_not_stored(service, admin):
    executives = make_people(service, "executive", 2)
    workers = make_people(service, "frontline", 3)
    round_ = service.start_round()
    service.deliver(round_, [*executives, *workers[:2]], lambda *_: "msg")
    service.record_answer(executives[0], "give-away", rating=3)
    service.record_answer(workers[0], "give-away", rating=3)
    service.record_answer(workers[0], "best-experience", text="twice, one person")
    service.record_answer(workers[2], "give-away", rating=4)  # never sent a check-in
    counts = service.response_counts(round_)
    assert counts["executive"] == {"asked": 2, "answered": 1, "unasked": 0}
    assert counts["frontline"] == {"asked": 3, "answered": 2, "unasked": 1}
    rates = service.response_rate(round_)  # what is shown: under the floor of 5, no count
    # ...and, while the count is hidden, the check-ins sent: the third frontline answer,
    # given without one, would otherwise show as one more asked.
    assert str(rates["frontline"]) == "some of 2" and str(rates["all"]) == "some of 4"
    assert service.answered(round_) == {executives[0].id, workers[0].id}
    assert "answered" not in service.store.db.table("deliveries").columns_dict


def test_a_proposal_goes_to_the_other_side_once_an_admin_approves_it(service, admin, clock):
    (worker,) = make_people(service, "frontline", 1)
    proposal = service.propose(worker, "When did you last talk to a customer yourself?")
    assert proposal.for_role == "executive" and proposal.status == "pending"
    with pytest.raises(NotAllowed, match="admins"):
        service.decide(worker, proposal.id, approve=True)
    approved = service.decide(admin, proposal.id, approve=True)
    round_ = service.start_round(admin)
    assert approved.question_id in round_.question_ids
    assert approved.question_id not in [q.id for q in service.questions_for(worker, round_)]
    assert approved.question_id in [q.id for q in service.questions_for(admin, round_)]
    with pytest.raises(UsageError, match="already approved"):
        service.decide(admin, proposal.id, approve=False)


def test_only_admins_set_roles(service, admin):
    (worker,) = make_people(service, "frontline", 1)
    with pytest.raises(NotAllowed, match="Only admins"):
        service.set_role(worker, worker, "executive")
    assert service.set_role(admin, worker, "executive").role == "executive"


def test_find_person_understands_slack_mentions_ids_and_names(service, admin):
    (worker,) = make_people(service, "frontline", 1)
    assert service.find_person(admin, f"<@{worker.user_id}|someone>").id == worker.id
    assert service.find_person(admin, f"@{worker.user_id}").id == worker.id
    assert service.find_person(admin, worker.display_name.upper()).id == worker.id


def test_an_answer_by_platform_ids_checks_like_record_answer_and_meets_newcomers(service, clock):
    (worker,) = make_people(service, "frontline", 1)
    round_ = service.start_round()
    question = round_.question_ids[0]
    ids = ("test", worker.workspace)
    person, seen, answer = service.record_answer_from(
        *ids, worker.user_id, question, round_id=round_.id, rating=4, source="slack"
    )
    assert (person.id, seen.id, answer.rating) == (worker.id, round_.id, 4)
    assert service.my_answers(worker, round_)[question].rating == 4
    # Someone never met is met (as frontline, or what their grant makes them) and recorded.
    newcomer, _, _ = service.record_answer_from(
        *ids, "UNEW", question, round_id=round_.id, display_name="Nia New", grant="executive",
        rating=2,
    )  # fmt: skip
    assert newcomer.is_executive and newcomer.display_name == "Nia New"
    with pytest.raises(InvalidAnswer, match="not part of round 1"):
        service.record_answer_from(*ids, worker.user_id, "no-such-question", round_id=round_.id)
    clock.now += timedelta(days=8)
    service.close_round()
    with pytest.raises(InvalidAnswer, match="closed"):
        service.record_answer_from(*ids, worker.user_id, question, round_id=round_.id, rating=1)
    assert service.my_answers(worker, round_)[question].rating == 4
