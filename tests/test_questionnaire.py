"""The questionnaire engine: definitions, the interview runner, quotas and the phone keypad."""

from __future__ import annotations

import string
from datetime import date
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from campaigns.questionnaire import (
    AnswerError,
    Ask,
    DefinitionError,
    Finished,
    Interview,
    Question,
    cells_of,
    contact_in_full_cell,
    full_cells,
    ivr_problems,
    ivr_prompt,
    ivr_value,
    parse_questionnaire,
    validate_answer,
)

POLL: dict[str, Any] = {
    "title": "Town poll",
    "questions": [
        {"id": "voter", "text": "Hello {first_name}, are you registered to vote?", "type": "yesno",
         "rules": ["if voter == no then goto screen_out"]},
        {"id": "party", "text": "Which party do you lean to?", "type": "single",
         "choices": ["Red", "Blue", {"code": 9, "label": "Other"}],
         "rules": [{"if": "party in (1, 2)", "goto": "score"}]},
        {"id": "other", "text": "Which one?", "type": "text", "required": False, "max_length": 40},
        {"id": "score", "text": "You said {party}. How likely are you to vote, 0 to 10?", "type": "rating",
         "rules": [{"if": {"q": "score", "op": "<", "value": 3}, "goto": "end"}]},
        {"id": "topics", "text": "Which topics matter?", "type": "multiple",
         "choices": [{"code": 1, "label": "Taxes"}, {"code": 2, "label": "Schools"}, {"code": 3, "label": "Roads"}]},
        {"id": "age", "text": "How old are you?", "type": "number", "min": 18, "max": 120},
        {"id": "since", "text": "Since when do you live here?", "type": "date", "max": "2026-12-01",
         "required": False},
    ],
    "quotas": [
        {"id": "red", "label": "Red leaners", "target": 2, "when": "party == 1", "contact": {"state": ["NY", "NJ"]}},
        {"id": "young", "target": 1, "when": {"q": "age", "op": "<", "value": 30}},
    ],
}


def poll() -> Any:
    return parse_questionnaire(POLL)


def run(interview: Interview, *answers: tuple[str, Any]) -> Interview:
    for question_id, value in answers:
        interview = interview.answer(question_id, value)
    return interview


# ---------------------------------------------------------------------- definitions


def test_a_questionnaire_with_every_type_loads_with_choices_coded_in_order():
    questionnaire = poll()

    party = questionnaire.question("party")
    assert [(c.code, c.label) for c in party.choices] == [(1, "Red"), (2, "Blue"), (9, "Other")]
    assert [q.type for q in questionnaire.questions] == [
        "yesno", "single", "text", "rating", "multiple", "number", "date"
    ]
    assert questionnaire.question("voter").rules[0].target == "screen_out"


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"questions": []}, "questions"),
        ({"questions": [{"id": "1x", "text": "a", "type": "yesno"}]}, "questions[0].id"),
        ({"questions": [{"id": "a", "text": "a", "type": "yesno"}, {"id": "a", "text": "b", "type": "yesno"}]},
         "questions[1].id"),
        ({"questions": [{"id": "a", "text": "a", "type": "essay"}]}, "a.type"),
        ({"questions": [{"id": "a", "text": "", "type": "yesno"}]}, "a.text"),
        ({"questions": [{"id": "a", "text": "a", "type": "single"}]}, "a.choices"),
        ({"questions": [{"id": "a", "text": "a", "type": "number", "min": 5, "max": 1}]}, "a.min"),
        ({"questions": [{"id": "a", "text": "Hi {b}", "type": "yesno"}, {"id": "b", "text": "b", "type": "yesno"}]},
         "a.text"),
        ({"questions": [{"id": "a", "text": "a", "type": "yesno", "rules": ["if a == yes then goto a"]}]},
         "a.rules[0].goto"),
        ({"questions": [{"id": "a", "text": "a", "type": "yesno", "rules": ["if a == 7 then goto end"]}]},
         "a.rules[0].if"),
        ({"questions": [{"id": "a", "text": "a", "type": "yesno", "colour": "red"}]}, "a.colour"),
        ({"questions": [{"id": "a", "text": "a", "type": "yesno"}],
          "quotas": [{"id": "c", "target": -1, "when": "a == yes"}]}, "c.target"),
        ({"questions": [{"id": "a", "text": "a", "type": "yesno"}],
          "quotas": [{"id": "c", "target": 3, "when": "a == yes", "contact": {"shoe_size": 9}}]},
         "c.contact.shoe_size"),
    ],
)
def test_a_bad_definition_is_refused_with_the_field_to_fix(change, field):
    with pytest.raises(DefinitionError) as refused:
        parse_questionnaire({"title": "t", **change})

    assert refused.value.field == field


def test_a_rule_may_only_test_questions_asked_before_it():
    definition = {"questions": [
        {"id": "a", "text": "a", "type": "yesno", "rules": ["if b == yes then goto end"]},
        {"id": "b", "text": "b", "type": "yesno"},
    ]}

    with pytest.raises(DefinitionError, match="not asked before"):
        parse_questionnaire(definition)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(
        st.sampled_from(["id", "text", "type", "choices", "rules", "questions", "quotas", "if", "goto", "q",
                         "op", "value", "min", "max", "target", "when", "contact", "code", "label", "skip_to"]),
        inner, max_size=6),
    max_leaves=30,
)


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(json_values)
def test_any_json_is_either_a_questionnaire_or_refused_with_a_named_field(data):
    try:
        parse_questionnaire(data)
    except DefinitionError as error:
        assert error.field and str(error)


# ---------------------------------------------------------------------- running an interview


def test_an_interview_follows_branching_and_pipes_earlier_answers_and_contact_fields():
    interview = Interview(poll(), context={"first_name": "Ann"})

    first = interview.step()
    assert isinstance(first, Ask) and first.text == "Hello Ann, are you registered to vote?"
    interview = run(interview, ("voter", "yes"), ("party", 2))
    step = interview.step()
    assert isinstance(step, Ask) and step.question.id == "score"  # "other" is skipped for Blue
    assert step.text == "You said Blue. How likely are you to vote, 0 to 10?"
    assert step.position == 3


def test_a_rule_can_screen_out_or_end_the_interview_early():
    screened = run(Interview(poll()), ("voter", False)).step()
    ended = run(Interview(poll()), ("voter", True), ("party", 1), ("score", 2)).step()

    assert isinstance(screened, Finished) and (screened.status, screened.reason) == ("screened_out", "rule at voter")
    assert isinstance(ended, Finished) and ended.status == "complete"


def test_a_question_that_is_not_required_can_be_skipped_and_pipes_as_nothing():
    definition = {"questions": [
        {"id": "nick", "text": "Nickname?", "type": "text", "required": False},
        {"id": "ok", "text": "So, {nick}, shall we go on? {{yes}}", "type": "yesno"},
    ]}
    interview = Interview(parse_questionnaire(definition)).answer("nick", "  ")

    step = interview.step()
    assert isinstance(step, Ask) and step.text == "So, , shall we go on? {yes}"
    assert interview.answers == {"nick": None}


def test_changing_an_earlier_answer_reroutes_and_leaves_the_other_route_off_the_path():
    interview = run(Interview(poll()), ("voter", True), ("party", 9), ("other", "Green"))
    assert interview.path_answers() == {"voter": True, "party": 9, "other": "Green"}

    rerouted = interview.answer("party", 1)

    assert rerouted.path_answers() == {"voter": True, "party": 1}
    assert isinstance(rerouted.step(), Ask) and rerouted.step().question.id == "score"  # type: ignore[union-attr]


def test_a_question_not_yet_reached_cannot_be_answered():
    with pytest.raises(AnswerError) as refused:
        Interview(poll()).answer("age", 40)

    assert refused.value.field == "age"
    with pytest.raises(AnswerError, match="not a question"):
        Interview(poll()).answer("shoe", 40)


@pytest.mark.parametrize(
    ("question_id", "value", "message"),
    [
        ("voter", "maybe", "yes"),
        ("party", 4, "not one of the codes"),
        ("party", True, "choice codes"),
        ("score", 11, "10 or less"),
        ("score", 4.5, "whole number"),
        ("topics", [1, 7], "not one of the codes"),
        ("topics", [], "required"),
        ("age", 17, "18 or more"),
        ("age", "old", "number"),
        ("age", float("inf"), "number"),
        ("since", "2030-01-01", "2026-12-01 or earlier"),
        ("since", "yesterday", "YYYY-MM-DD"),
        ("other", "x" * 41, "at most 40"),
    ],
)
def test_an_answer_out_of_range_is_refused_naming_the_question(question_id, value, message):
    with pytest.raises(AnswerError, match=message) as refused:
        validate_answer(poll().question(question_id), value)

    assert refused.value.field == question_id


def test_answers_are_kept_in_one_json_form_whatever_form_they_came_in():
    q = poll()

    assert validate_answer(q.question("party"), " 2 ") == 2
    assert validate_answer(q.question("topics"), "3,1,3") == [1, 3]
    assert validate_answer(q.question("voter"), "No") is False
    assert validate_answer(q.question("age"), "42") == 42
    assert validate_answer(q.question("since"), date(2020, 2, 29)) == "2020-02-29"
    assert validate_answer(q.question("since"), None) is None


# ---------------------------------------------------------------------- properties over random questionnaires


@st.composite
def questionnaires(draw: st.DrawFn) -> dict[str, Any]:
    count = draw(st.integers(1, 8))
    ids = [f"q{n}" for n in range(1, count + 1)]
    questions = []
    for position, qid in enumerate(ids):
        kind = draw(st.sampled_from(["single", "multiple", "number", "yesno", "rating", "text", "date"]))
        question: dict[str, Any] = {"id": qid, "text": f"Question {qid}", "type": kind,
                                    "required": draw(st.booleans())}
        if kind in ("single", "multiple"):
            codes = draw(st.lists(st.integers(0, 20), min_size=1, max_size=5, unique=True))
            question["choices"] = [{"code": c, "label": f"option {c}"} for c in codes]
        if kind == "number":
            low = draw(st.integers(-50, 50))
            question.update(min=low, max=low + draw(st.integers(0, 100)))
        if kind == "text":
            question["max_length"] = draw(st.integers(1, 30))
        if kind == "date":
            question.update(min="2000-01-01", max="2030-12-31")
        later = [*ids[position + 1:], "end", "screen_out"]
        rules = []
        for _ in range(draw(st.integers(0, 2))):
            target = draw(st.sampled_from(later))
            if kind == "single":
                rules.append({"if": {"q": qid, "op": "==", "value": draw(st.sampled_from(codes))}, "goto": target})
            elif kind == "yesno":
                rules.append({"if": f"{qid} == {draw(st.sampled_from(['yes', 'no']))}", "goto": target})
            elif kind in ("rating", "number"):
                rules.append({"if": {"q": qid, "op": ">=", "value": draw(st.integers(0, 10))}, "goto": target})
            else:
                rules.append({"goto": target})
        question["rules"] = rules
        questions.append(question)
    quotas = []
    singles = [q for q in questions if q["type"] == "single"]
    for number, question in enumerate(singles[:2]):
        code = question["choices"][0]["code"]
        quotas.append({"id": f"cell{number}", "target": draw(st.integers(0, 3)), "when": f"{question['id']} == {code}"})
    return {"title": "random", "questions": questions, "quotas": quotas}


def valid_answer(question: Question) -> st.SearchStrategy[Any]:
    strategy: st.SearchStrategy[Any]
    if question.type == "single":
        strategy = st.sampled_from([c.code for c in question.choices])
    elif question.type == "multiple":
        strategy = st.lists(st.sampled_from([c.code for c in question.choices]), min_size=1, unique=True)
    elif question.type == "number":
        strategy = st.integers(int(question.min or 0), int(question.max or 0))
    elif question.type == "yesno":
        strategy = st.booleans()
    elif question.type == "rating":
        strategy = st.integers(0, 10)
    elif question.type == "text":
        strategy = st.text(string.ascii_letters, min_size=1, max_size=question.max_length)
    else:
        strategy = st.dates(date(2000, 1, 1), date(2030, 12, 31)).map(date.isoformat)
    return strategy | st.none() if not question.required else strategy


@settings(max_examples=200, suppress_health_check=[HealthCheck.too_slow])
@given(questionnaires(), st.data(), st.frozensets(st.sampled_from(["cell0", "cell1"])))
def test_every_path_ends_without_asking_a_question_twice(definition, data, full):
    questionnaire = parse_questionnaire(definition)
    interview = Interview(questionnaire, full=full)
    asked: list[str] = []

    for _ in range(len(questionnaire.questions) + 1):
        step = interview.step()
        if isinstance(step, Finished):
            break
        assert step.question.id not in asked
        assert step.position == len(asked) + 1
        asked.append(step.question.id)
        interview = interview.answer(step.question.id, data.draw(valid_answer(step.question)))
    else:
        pytest.fail(f"the interview did not end after {asked}")

    assert step.status in ("complete", "screened_out")
    order = [questionnaire.index(qid) for qid in asked]
    assert order == sorted(order)
    assert list(interview.path_answers()) == asked
    # Deterministic: the same answers rebuild the same interview.
    assert Interview(questionnaire, dict(interview.answers), full=full).step() == step
    if step.reason.startswith("quota "):
        assert step.reason[6:] in full and step.reason[6:] in cells_of(questionnaire, interview.path_answers())


@settings(max_examples=200)
@given(questionnaires(), st.data())
def test_an_answer_outside_what_a_question_accepts_is_always_refused(definition, data):
    questionnaire = parse_questionnaire(definition)
    question = data.draw(st.sampled_from(questionnaire.questions))
    bad: st.SearchStrategy[Any]
    if question.type == "single":
        bad = st.integers(-5, 40).filter(lambda n: n not in {c.code for c in question.choices})
    elif question.type == "multiple":
        bad = st.integers(21, 99).map(lambda n: [question.choices[0].code, n])
    elif question.type == "number":
        bad = st.integers(1, 1000).flatmap(lambda d: st.sampled_from([question.min - d, question.max + d]))
    elif question.type == "rating":
        bad = st.integers(11, 1000) | st.integers(-1000, -1)
    elif question.type == "yesno":
        bad = st.sampled_from(["maybe", 3, 0, "", "yess"]) if question.required else st.sampled_from(["maybe", 3])
    elif question.type == "text":
        bad = st.text(string.ascii_letters, min_size=question.max_length + 1, max_size=question.max_length + 20)
    else:
        bad = st.sampled_from(["1999-12-31", "2031-01-01", "31/12/2020", "2020-02-30"])

    with pytest.raises(AnswerError) as refused:
        validate_answer(question, data.draw(bad))
    assert refused.value.field == question.id


# ---------------------------------------------------------------------- quotas


def test_a_respondent_who_falls_in_a_full_cell_is_screened_out_right_after_the_answer_that_places_them():
    questionnaire = poll()
    full = full_cells(questionnaire, {"red": 2, "young": 0})
    assert full == {"red"}

    red = run(Interview(questionnaire, full=full), ("voter", True), ("party", 1)).step()
    blue = run(Interview(questionnaire, full=full), ("voter", True), ("party", 2)).step()

    assert isinstance(red, Finished) and (red.status, red.reason) == ("screened_out", "quota red")
    assert isinstance(blue, Ask)


def test_a_cell_with_a_target_of_zero_is_full_from_the_start():
    questionnaire = poll()

    assert full_cells(questionnaire, {}) == frozenset()
    closed = parse_questionnaire({**POLL, "quotas": [{"id": "none", "target": 0, "when": "voter == yes"}]})
    assert full_cells(closed, {}) == {"none"}


def test_a_contact_is_known_to_be_in_a_full_cell_only_when_its_list_fields_say_so():
    questionnaire = poll()

    assert contact_in_full_cell(questionnaire, {"red"}, {"state": " ny "}) == "red"
    assert contact_in_full_cell(questionnaire, {"red"}, {"state": "CA"}) is None
    assert contact_in_full_cell(questionnaire, {"red"}, {"state": None}) is None
    assert contact_in_full_cell(questionnaire, set(), {"state": "NY"}) is None
    assert contact_in_full_cell(questionnaire, {"young"}, {"state": "NY"}) is None  # no list field maps to it


def test_a_cell_can_be_mapped_to_a_custom_field_of_the_contact():
    definition = {**POLL, "quotas": [{"id": "north", "target": 1, "when": "party == 1",
                                      "contact": {"custom.region": "North", "state": ["NY"]}}]}
    questionnaire = parse_questionnaire(definition)

    assert contact_in_full_cell(questionnaire, {"north"}, {"state": "NY", "custom_fields": {"region": "north"}})
    assert not contact_in_full_cell(questionnaire, {"north"}, {"state": "NY", "custom_fields": {"region": "south"}})


def test_a_multiple_choice_condition_tests_any_of_the_chosen_codes():
    definition = {"questions": [
        {"id": "pets", "text": "Pets?", "type": "multiple", "choices": ["Cat", "Dog", "Fish"],
         "rules": [{"if": "pets has 3", "goto": "fish"}, {"if": "pets in (1, 2)", "goto": "end"}]},
        {"id": "other", "text": "Other?", "type": "text"},
        {"id": "fish", "text": "How many fish?", "type": "number", "min": 1},
    ]}
    questionnaire = parse_questionnaire(definition)

    fish = Interview(questionnaire).answer("pets", [1, 3]).step()
    cat = Interview(questionnaire).answer("pets", [1]).step()

    assert isinstance(fish, Ask) and fish.question.id == "fish"
    assert isinstance(cat, Finished) and cat.status == "complete"


# ---------------------------------------------------------------------- phone keypad


def test_the_introduction_is_said_before_the_first_question_only():
    questionnaire = parse_questionnaire({**POLL, "intro": "Hi {first_name}, a short survey."})
    interview = Interview(questionnaire, context={"first_name": "Ann"})

    first = ivr_prompt(interview.step())
    again = ivr_prompt(interview.step(), error="Sorry.")
    second = ivr_prompt(interview.answer("voter", True).step())

    assert first.say.startswith("Hi Ann, a short survey. Hello Ann, are you registered")
    assert again.say.startswith("Sorry. Hello Ann")
    assert second.say.startswith("Which party")


def test_a_choice_question_is_spoken_with_its_keys_and_gathers_one_digit():
    interview = run(Interview(poll()), ("voter", True))

    prompt = ivr_prompt(interview.step())

    assert prompt.say == "Which party do you lean to? For Red, press 1. For Blue, press 2. For Other, press 3."
    assert (prompt.question_id, prompt.num_digits, prompt.finish_on_key, prompt.hangup) == ("party", 1, "#", False)
    assert ivr_value(poll().question("party"), "3") == 9  # the third choice's code


def test_each_answer_type_maps_keys_to_an_answer():
    q = poll()

    assert ivr_value(q.question("voter"), "1") is True
    assert ivr_value(q.question("voter"), "2") is False
    assert ivr_value(q.question("topics"), "31#") == [3, 1]
    assert ivr_value(q.question("age"), "42#") == 42
    assert ivr_value(q.question("score"), "10") == 10
    assert ivr_value(q.question("since"), "02292020") == "2020-02-29"
    assert ivr_value(q.question("since"), "*") is None


@pytest.mark.parametrize(
    ("question_id", "keys", "message"),
    [
        ("party", "4", "not one of the choices"),
        ("voter", "3", "1 for yes"),
        ("voter", "*", "required"),
        ("age", "#", "no keys"),
        ("since", "0230202", "eight digits"),
        ("since", "02302020", "not a date"),
        ("age", "4*2", "digit keys"),
    ],
)
def test_keys_that_answer_nothing_are_refused_naming_the_question(question_id, keys, message):
    with pytest.raises(AnswerError, match=message) as refused:
        ivr_value(poll().question(question_id), keys)

    assert refused.value.field == question_id


def test_the_prompts_say_how_to_answer_and_the_end_hangs_up():
    q = poll()
    at_score = run(Interview(q), ("voter", True), ("party", 1))
    at_since = run(at_score, ("score", 9), ("topics", [2]), ("age", 44))

    score = ivr_prompt(at_score.step(), error="Sorry, that was not a choice.")
    since = ivr_prompt(at_since.step())
    done = ivr_prompt(run(at_since, ("since", None)).step())

    assert score.say.startswith("Sorry, that was not a choice. You said Red.")
    assert "from 0 to 10, then press pound" in score.say and score.num_digits == 2
    assert since.num_digits == 8 and since.say.endswith("To skip this question, press star.")
    assert done.hangup and done.say == q.closing and done.question_id is None


def test_a_questionnaire_that_a_keypad_cannot_answer_says_why():
    problems = dict(ivr_problems(poll()))

    assert problems == {"other.type": "free text cannot be typed on a phone keypad"}
    many = parse_questionnaire({"questions": [{"id": "a", "text": "a", "type": "single",
                                               "choices": [str(n) for n in range(10)]}]})
    assert [field for field, _ in ivr_problems(many)] == ["a.choices"]


def keys_for(question: Question, value: Any) -> str:
    """What a respondent types for ``value``: the inverse of ``ivr_value``."""
    if value is None:
        return "*"
    if question.type == "single":
        return str([c.code for c in question.choices].index(value) + 1)
    if question.type == "multiple":
        return "".join(str([c.code for c in question.choices].index(code) + 1) for code in value) + "#"
    if question.type == "yesno":
        return "1" if value else "2"
    if question.type == "date":
        day = date.fromisoformat(value)
        return f"{day.month:02d}{day.day:02d}{day.year:04d}"
    return f"{value}#"


@settings(max_examples=200, suppress_health_check=[HealthCheck.too_slow])
@given(questionnaires(), st.data())
def test_on_a_keypad_every_valid_answer_typed_as_keys_is_taken_as_that_answer(definition, data):
    for question in definition["questions"]:
        if question["type"] == "text":
            question["type"] = "yesno"
        if question["type"] == "number":
            question["min"] = abs(question["min"])
            question["max"] = question["min"] + 100
        if question["type"] != "single":
            question["rules"] = [rule for rule in question["rules"] if "if" not in rule or question["type"] == "yesno"]
        if question["type"] not in ("single", "multiple", "number"):
            question.pop("min", None)
            question.pop("max", None)
            question.pop("choices", None)
        question.pop("max_length", None)
    questionnaire = parse_questionnaire(definition)
    assert ivr_problems(questionnaire) == []
    interview = Interview(questionnaire)

    for _ in range(len(questionnaire.questions)):
        step = interview.step()
        if isinstance(step, Finished):
            break
        prompt = ivr_prompt(step)
        value = validate_answer(step.question, data.draw(valid_answer(step.question)))
        keys = keys_for(step.question, value)
        assert prompt.question_id == step.question.id and not prompt.hangup
        assert prompt.num_digits is None or len(keys.rstrip("#")) <= prompt.num_digits or keys == "*"
        assert ivr_value(step.question, keys) == value
        interview = interview.answer(step.question.id, ivr_value(step.question, keys))
    assert ivr_prompt(interview.step()).hangup
