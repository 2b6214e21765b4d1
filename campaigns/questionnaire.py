"""Questionnaires: one definition that an agent reads on screen and that an automated phone survey plays.

A questionnaire is plain JSON (see ``docs/surveys.md``): questions with an id,
a text that may pipe earlier answers or contact fields (``{q1}``,
``{first_name}``), a type, branching rules and quota cells.  This module holds
no I/O: it parses a definition, walks an interview from the answers given so
far, validates each answer, and turns a question into what a phone keypad can
gather.  Storage, dialing and the web console are adapters around it.

Branching only jumps forward.  That is the design choice that makes every
interview end, never ask one question twice, and lets a partial interview
resume by walking the stored answers from the first question again.

Answers are kept as JSON values: a choice code (int), a list of codes for a
multiple choice, a number, ``True``/``False`` for yes/no, text, or an ISO date.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

__all__ = [
    "CONTACT_FIELDS",
    "END",
    "QUESTION_TYPES",
    "SCREEN_OUT",
    "AllOf",
    "AnswerError",
    "AnyOf",
    "Ask",
    "Choice",
    "Comparison",
    "DefinitionError",
    "Finished",
    "Interview",
    "IvrPrompt",
    "Question",
    "Questionnaire",
    "QuotaCell",
    "Rule",
    "cells_of",
    "contact_in_full_cell",
    "full_cells",
    "ivr_problems",
    "ivr_prompt",
    "ivr_value",
    "parse_condition",
    "parse_questionnaire",
    "validate_answer",
]

QUESTION_TYPES = ("single", "multiple", "number", "yesno", "rating", "text", "date")
END = "end"
SCREEN_OUT = "screen_out"
COMPLETE = "complete"
SCREENED_OUT = "screened_out"
#: Contact fields a question text may pipe in; ``{custom.NAME}`` reaches the contact's custom fields.
CONTACT_FIELDS = ("first_name", "last_name", "email", "state", "postal_code", "external_id")
OPS = ("==", "!=", "<", "<=", ">", ">=", "in", "not in", "has")
DEFAULT_TEXT_LENGTH = 500
MAX_TEXT_LENGTH = 5000
IVR_MAX_CHOICES = 9

_ID = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,39}$")
_PLACEHOLDER = re.compile(r"\{\{|\}\}|\{([^{}]*)\}")
_CONDITION = re.compile(
    r"^\s*([A-Za-z][A-Za-z0-9_]*)\s*(==|!=|<=|>=|<|>|not\s+in\b|in\b|has\b)\s*(.+?)\s*$", re.IGNORECASE
)
_RULE = re.compile(r"^\s*if\s+(.+?)\s+then\s+(?:goto\s+)?(\S+)\s*$", re.IGNORECASE)
_ELSE = re.compile(r"^\s*(?:else\s+)?(?:goto\s+)?(\S+)\s*$", re.IGNORECASE)


class DefinitionError(ValueError):
    """A questionnaire definition was refused; ``problems`` names each field to fix, first one in ``field``."""

    def __init__(self, problems: Sequence[tuple[str, str]]) -> None:
        self.problems = list(problems)
        self.field = self.problems[0][0] if self.problems else "definition"
        super().__init__("; ".join(f"{where}: {message}" for where, message in self.problems))


class AnswerError(ValueError):
    """An answer was refused; ``field`` is the question's id, so a form can mark the right question."""

    def __init__(self, question_id: str, message: str) -> None:
        self.field = question_id
        self.message = message
        super().__init__(f"{question_id}: {message}")


# ---------------------------------------------------------------------- conditions


@dataclass(frozen=True)
class Comparison:
    """``question op value``; false whenever the question has no answer on the path."""

    question: str
    op: str
    value: Any

    def holds(self, answers: Mapping[str, Any]) -> bool:
        answer = answers.get(self.question)
        if answer is None:
            return False
        if isinstance(answer, list):
            chosen = set(answer)
            if self.op == "has":
                return self.value in chosen
            if self.op == "in":
                return bool(chosen & set(self.value))
            if self.op == "not in":
                return not chosen & set(self.value)
            if self.op == "==":
                return chosen == set(self.value if isinstance(self.value, list) else [self.value])
            if self.op == "!=":
                return chosen != set(self.value if isinstance(self.value, list) else [self.value])
            return False
        if self.op == "in":
            return answer in self.value
        if self.op == "not in":
            return answer not in self.value
        if self.op == "==":
            return bool(answer == self.value)
        if self.op == "!=":
            return bool(answer != self.value)
        if self.op == "has" or not _comparable(answer, self.value):
            return False
        if self.op == "<":
            return bool(answer < self.value)
        if self.op == "<=":
            return bool(answer <= self.value)
        if self.op == ">":
            return bool(answer > self.value)
        return bool(answer >= self.value)

    def questions(self) -> set[str]:
        return {self.question}


def _comparable(left: Any, right: Any) -> bool:
    if isinstance(left, bool) or isinstance(right, bool):
        return False
    both_numbers = isinstance(left, int | float) and isinstance(right, int | float)
    return both_numbers or (isinstance(left, str) and isinstance(right, str))


@dataclass(frozen=True)
class AllOf:
    parts: tuple[Condition, ...]

    def holds(self, answers: Mapping[str, Any]) -> bool:
        return all(part.holds(answers) for part in self.parts)

    def questions(self) -> set[str]:
        return set().union(*(part.questions() for part in self.parts))


@dataclass(frozen=True)
class AnyOf:
    parts: tuple[Condition, ...]

    def holds(self, answers: Mapping[str, Any]) -> bool:
        return any(part.holds(answers) for part in self.parts)

    def questions(self) -> set[str]:
        return set().union(*(part.questions() for part in self.parts))


Condition = Comparison | AllOf | AnyOf


# ---------------------------------------------------------------------- definition


@dataclass(frozen=True)
class Choice:
    code: int
    label: str


@dataclass(frozen=True)
class Rule:
    """Go to ``target`` (a later question's id, ``end`` or ``screen_out``) when ``when`` holds (always if None)."""

    target: str
    when: Condition | None = None


@dataclass(frozen=True)
class Question:
    id: str
    text: str
    type: str
    required: bool = True
    choices: tuple[Choice, ...] = ()
    min: float | str | None = None
    max: float | str | None = None
    decimals: bool = False
    max_length: int = DEFAULT_TEXT_LENGTH
    min_choices: int | None = None
    max_choices: int | None = None
    rules: tuple[Rule, ...] = ()

    def label(self, code: int) -> str:
        for choice in self.choices:
            if choice.code == code:
                return choice.label
        return str(code)


@dataclass(frozen=True)
class QuotaCell:
    """A group of respondents with a target count of completed interviews.

    ``contact`` maps contact attributes (``state``, ``postal_code``,
    ``custom.NAME``...) to the values that put a contact in this cell before
    anyone speaks to them, so dialing can skip contacts of a full cell.
    """

    id: str
    target: int
    when: Condition
    label: str = ""
    contact: Mapping[str, tuple[str, ...]] = field(default_factory=dict)


@dataclass(frozen=True)
class Questionnaire:
    title: str
    questions: tuple[Question, ...]
    quotas: tuple[QuotaCell, ...] = ()
    intro: str = ""
    closing: str = "Thank you for your time. Goodbye."
    screen_out_message: str = "Thank you, that is all we need today. Goodbye."

    def question(self, question_id: str) -> Question:
        for question in self.questions:
            if question.id == question_id:
                return question
        raise KeyError(question_id)

    def index(self, question_id: str) -> int:
        for position, question in enumerate(self.questions):
            if question.id == question_id:
                return position
        raise KeyError(question_id)


def parse_questionnaire(data: Any) -> Questionnaire:
    """A checked questionnaire from its JSON definition; ``DefinitionError`` lists every problem by field."""
    problems: list[tuple[str, str]] = []
    if not isinstance(data, Mapping):
        raise DefinitionError([("definition", "must be a JSON object with a 'questions' list")])
    raw_questions = data.get("questions")
    if not isinstance(raw_questions, list) or not raw_questions:
        raise DefinitionError([("questions", "must be a non-empty list of questions")])
    if len(raw_questions) > 500:
        raise DefinitionError([("questions", "at most 500 questions")])
    title = _plain_text(data.get("title", ""), "title", problems, limit=200)

    ids: list[str] = []
    for position, raw in enumerate(raw_questions):
        where = f"questions[{position}]"
        if not isinstance(raw, Mapping):
            problems.append((where, "must be an object with id, text and type"))
            ids.append(f"#{position}")
            continue
        qid = raw.get("id")
        if not isinstance(qid, str) or not _ID.match(qid):
            problems.append((f"{where}.id", "must start with a letter, hold only letters, digits and _, 40 at most"))
            ids.append(f"#{position}")
        elif qid in ids:
            problems.append((f"{where}.id", f"{qid!r} is used by an earlier question"))
            ids.append(f"#{position}")
        elif qid in (END, SCREEN_OUT):
            problems.append((f"{where}.id", f"{qid!r} is reserved for branching"))
            ids.append(f"#{position}")
        else:
            ids.append(qid)
    if problems:
        raise DefinitionError(problems)

    # Questions first without their rules, so that conditions can be typed by the question they test.
    bare: list[Question] = [_question(raw, ids, position, problems) for position, raw in enumerate(raw_questions)]
    if problems:
        raise DefinitionError(problems)
    by_id = {question.id: question for question in bare}
    questions = []
    for position, (raw, question) in enumerate(zip(raw_questions, bare, strict=True)):
        rules = _rules(raw, position, ids, by_id, problems)
        questions.append(_replace_rules(question, rules))
    quotas = _quotas(data.get("quotas", []), by_id, problems)
    texts = {
        name: _plain_text(data.get(name, default), name, problems, limit=2000)
        for name, default in (
            ("intro", ""),
            ("closing", Questionnaire.closing),
            ("screen_out_message", Questionnaire.screen_out_message),
        )
    }
    for name in ("intro", "closing", "screen_out_message"):
        _check_placeholders(texts[name], name, set(), problems)
    unknown = set(data) - {"title", "intro", "closing", "screen_out_message", "questions", "quotas", "description"}
    if unknown:
        problems.append((sorted(unknown)[0], "is not a questionnaire field"))
    if problems:
        raise DefinitionError(problems)
    return Questionnaire(title=title, questions=tuple(questions), quotas=tuple(quotas), **texts)


_QUESTION_FIELDS = {
    "id", "text", "type", "required", "choices", "min", "max", "decimals", "max_length",
    "min_choices", "max_choices", "rules", "skip_to",
}


def _question(raw: Mapping[str, Any], ids: list[str], position: int, problems: list[tuple[str, str]]) -> Question:
    qid = ids[position]
    where = f"{qid}"
    text = _plain_text(raw.get("text"), f"{where}.text", problems, limit=2000, required=True)
    _check_placeholders(text, f"{where}.text", set(ids[:position]), problems)
    kind = raw.get("type")
    if kind not in QUESTION_TYPES:
        problems.append((f"{where}.type", f"must be one of {', '.join(QUESTION_TYPES)}"))
        return Question(id=qid, text=text, type="text")
    required = raw.get("required", True)
    if not isinstance(required, bool):
        problems.append((f"{where}.required", "must be true or false"))
        required = True
    for name in sorted(set(raw) - _QUESTION_FIELDS):
        problems.append((f"{where}.{name}", "is not a question field"))
    question = Question(id=qid, text=text, type=kind, required=required)
    if kind in ("single", "multiple"):
        choices = _choices(raw.get("choices"), f"{where}.choices", problems)
        low = _count(raw.get("min_choices"), f"{where}.min_choices", problems)
        high = _count(raw.get("max_choices"), f"{where}.max_choices", problems)
        if kind == "single" and (low is not None or high is not None):
            problems.append((f"{where}.min_choices", "only a multiple choice question takes min_choices/max_choices"))
        if low is not None and high is not None and low > high:
            problems.append((f"{where}.min_choices", "must not be above max_choices"))
        if high is not None and choices and high > len(choices):
            problems.append((f"{where}.max_choices", "must not be above the number of choices"))
        return Question(id=qid, text=text, type=kind, required=required, choices=choices,
                        min_choices=low, max_choices=high)
    if "choices" in raw:
        problems.append((f"{where}.choices", f"a {kind} question has no choices"))
    if kind == "number":
        decimals = raw.get("decimals", False)
        if not isinstance(decimals, bool):
            problems.append((f"{where}.decimals", "must be true or false"))
            decimals = False
        low_n = _number(raw.get("min"), f"{where}.min", problems)
        high_n = _number(raw.get("max"), f"{where}.max", problems)
        if low_n is not None and high_n is not None and low_n > high_n:
            problems.append((f"{where}.min", "must not be above max"))
        return Question(id=qid, text=text, type=kind, required=required, min=low_n, max=high_n, decimals=decimals)
    if kind == "rating":
        low_r = _number(raw.get("min", 0), f"{where}.min", problems)
        high_r = _number(raw.get("max", 10), f"{where}.max", problems)
        if low_r is None or high_r is None or low_r != int(low_r) or high_r != int(high_r) or not (
            0 <= low_r < high_r <= 10
        ):
            problems.append((f"{where}.min", "a rating runs on whole numbers within 0 to 10"))
            low_r, high_r = 0, 10
        return Question(id=qid, text=text, type=kind, required=required, min=int(low_r), max=int(high_r))
    if kind == "text":
        length = raw.get("max_length", DEFAULT_TEXT_LENGTH)
        if not isinstance(length, int) or isinstance(length, bool) or not 1 <= length <= MAX_TEXT_LENGTH:
            problems.append((f"{where}.max_length", f"must be a whole number from 1 to {MAX_TEXT_LENGTH}"))
            length = DEFAULT_TEXT_LENGTH
        return Question(id=qid, text=text, type=kind, required=required, max_length=length)
    if kind == "date":
        low_d = _date(raw.get("min"), f"{where}.min", problems)
        high_d = _date(raw.get("max"), f"{where}.max", problems)
        if low_d is not None and high_d is not None and low_d > high_d:
            problems.append((f"{where}.min", "must not be after max"))
        return Question(id=qid, text=text, type=kind, required=required, min=low_d, max=high_d)
    return question


def _replace_rules(question: Question, rules: tuple[Rule, ...]) -> Question:
    return Question(
        id=question.id, text=question.text, type=question.type, required=question.required,
        choices=question.choices, min=question.min, max=question.max, decimals=question.decimals,
        max_length=question.max_length, min_choices=question.min_choices, max_choices=question.max_choices,
        rules=rules,
    )


def _choices(raw: Any, where: str, problems: list[tuple[str, str]]) -> tuple[Choice, ...]:
    if not isinstance(raw, list) or not raw:
        problems.append((where, "must be a non-empty list of labels or {code, label} objects"))
        return ()
    if len(raw) > 99:
        problems.append((where, "at most 99 choices"))
        return ()
    choices: list[Choice] = []
    for position, item in enumerate(raw):
        code: Any
        label: Any
        if isinstance(item, str):
            code, label = position + 1, item
        elif isinstance(item, Mapping):
            code, label = item.get("code"), item.get("label")
        else:
            problems.append((f"{where}[{position}]", "must be a label or a {code, label} object"))
            continue
        if not isinstance(code, int) or isinstance(code, bool) or not 0 <= code <= 9999:
            problems.append((f"{where}[{position}].code", "must be a whole number from 0 to 9999"))
            continue
        if not isinstance(label, str) or not label.strip():
            problems.append((f"{where}[{position}].label", "must be a non-empty text"))
            continue
        if any(choice.code == code for choice in choices):
            problems.append((f"{where}[{position}].code", f"code {code} is used twice"))
            continue
        choices.append(Choice(code=code, label=label.strip()))
    return tuple(choices)


def _rules(
    raw: Mapping[str, Any],
    position: int,
    ids: list[str],
    by_id: Mapping[str, Question],
    problems: list[tuple[str, str]],
) -> tuple[Rule, ...]:
    qid = ids[position]
    items = raw.get("rules", [])
    if not isinstance(items, list):
        problems.append((f"{qid}.rules", "must be a list of rules"))
        return ()
    later = set(ids[position + 1:])
    known = set(ids[: position + 1])
    rules: list[Rule] = []
    entries = list(items) + ([{"goto": raw["skip_to"]}] if "skip_to" in raw else [])
    for number, item in enumerate(entries):
        where = f"{qid}.rules[{number}]" if number < len(items) else f"{qid}.skip_to"
        when_raw: Any = None
        target: Any
        if isinstance(item, str):
            matched = _RULE.match(item)
            if matched:
                when_raw, target = matched.group(1), matched.group(2)
            else:
                plain = _ELSE.match(item)
                if not plain:
                    problems.append((where, "must read 'if <condition> then goto <question>' or 'else <target>'"))
                    continue
                target = plain.group(1)
        elif isinstance(item, Mapping):
            target = item.get("goto")
            when_raw = item.get("if")
            extra = set(item) - {"if", "goto"}
            if extra:
                problems.append((f"{where}.{sorted(extra)[0]}", "is not a rule field (use 'if' and 'goto')"))
        else:
            problems.append((where, "must be an object {if, goto} or a text rule"))
            continue
        if target not in later and target not in (END, SCREEN_OUT):
            problems.append(
                (f"{where}.goto", f"{target!r} is not a later question, 'end' or 'screen_out' (branching goes forward)")
            )
            continue
        when = None
        if when_raw is not None:
            try:
                when = parse_condition(when_raw, by_id)
            except DefinitionError as error:
                problems.extend((f"{where}.if", message) for _, message in error.problems)
                continue
            stray = when.questions() - known
            if stray:
                problems.append((f"{where}.if", f"tests {sorted(stray)[0]!r}, which is not asked before this rule"))
                continue
        rules.append(Rule(target=str(target), when=when))
    return tuple(rules)


def _quotas(raw: Any, by_id: Mapping[str, Question], problems: list[tuple[str, str]]) -> list[QuotaCell]:
    if raw is None:
        return []
    if not isinstance(raw, list):
        problems.append(("quotas", "must be a list of quota cells"))
        return []
    cells: list[QuotaCell] = []
    for position, item in enumerate(raw):
        where = f"quotas[{position}]"
        if not isinstance(item, Mapping):
            problems.append((where, "must be an object with id, target and when"))
            continue
        cid = item.get("id")
        if not isinstance(cid, str) or not _ID.match(cid):
            problems.append((f"{where}.id", "must start with a letter and hold only letters, digits and _"))
            continue
        if any(cell.id == cid for cell in cells):
            problems.append((f"{where}.id", f"{cid!r} is used by an earlier cell"))
            continue
        target = item.get("target")
        if not isinstance(target, int) or isinstance(target, bool) or target < 0:
            problems.append((f"{cid}.target", "must be a whole number of completed interviews, 0 or more"))
            continue
        try:
            when = parse_condition(item.get("when"), by_id)
        except DefinitionError as error:
            problems.extend((f"{cid}.when", message) for _, message in error.problems)
            continue
        contact = _contact_map(item.get("contact", {}), f"{cid}.contact", problems)
        label = _plain_text(item.get("label", ""), f"{cid}.label", problems, limit=200)
        extra = set(item) - {"id", "target", "when", "contact", "label"}
        if extra:
            problems.append((f"{cid}.{sorted(extra)[0]}", "is not a quota field"))
        cells.append(QuotaCell(id=cid, target=target, when=when, label=label, contact=contact))
    return cells


def _contact_map(raw: Any, where: str, problems: list[tuple[str, str]]) -> dict[str, tuple[str, ...]]:
    if not isinstance(raw, Mapping):
        problems.append((where, "must map contact attributes to the values of the cell"))
        return {}
    mapping: dict[str, tuple[str, ...]] = {}
    for name, values in raw.items():
        if name not in ("state", "postal_code", "timezone") and not (
            isinstance(name, str) and name.startswith("custom.") and len(name) > 7
        ):
            problems.append((f"{where}.{name}", "must be state, postal_code, timezone or custom.NAME"))
            continue
        listed = values if isinstance(values, list) else [values]
        if not listed or not all(isinstance(v, str | int) and not isinstance(v, bool) for v in listed):
            problems.append((f"{where}.{name}", "must be a value or a list of values"))
            continue
        mapping[name] = tuple(str(v).strip().casefold() for v in listed)
    return mapping


def parse_condition(raw: Any, questions: Mapping[str, Question]) -> Condition:
    """A condition from ``"q2 == 1"``, ``{"q": "q2", "op": "in", "value": [1, 2]}``, ``{"all": [...]}``,
    ``{"any": [...]}`` or a list (all of them); values are checked against the question they test, so a
    typo in a code is refused when the questionnaire is loaded rather than never matching."""
    if isinstance(raw, str):
        matched = _CONDITION.match(raw)
        if not matched:
            raise DefinitionError(
                [("if", f"{raw!r} must read '<question> <op> <value>' with op one of {', '.join(OPS)}")]
            )
        qid, op, text = matched.group(1), " ".join(matched.group(2).lower().split()), matched.group(3)
        return _comparison(qid, op, _literal(text), questions)
    if isinstance(raw, list):
        if not raw:
            raise DefinitionError([("if", "an empty list of conditions")])
        return AllOf(tuple(parse_condition(item, questions) for item in raw))
    if isinstance(raw, Mapping):
        if set(raw) == {"all"} or set(raw) == {"any"}:
            parts = raw.get("all", raw.get("any"))
            if not isinstance(parts, list) or not parts:
                raise DefinitionError([("if", "'all'/'any' take a non-empty list of conditions")])
            parsed = tuple(parse_condition(item, questions) for item in parts)
            return AllOf(parsed) if "all" in raw else AnyOf(parsed)
        if set(raw) <= {"q", "op", "value"} and "q" in raw:
            return _comparison(raw.get("q"), str(raw.get("op", "==")), raw.get("value"), questions)
    raise DefinitionError([("if", "a condition reads 'q2 == 1', or {q, op, value}, {all: [...]} or {any: [...]}")])


def _comparison(qid: Any, op: str, value: Any, questions: Mapping[str, Question]) -> Comparison:
    if not isinstance(qid, str) or qid not in questions:
        raise DefinitionError([("if", f"{qid!r} is not a question of this questionnaire")])
    if op not in OPS:
        raise DefinitionError([("if", f"{op!r} is not one of {', '.join(OPS)}")])
    question = questions[qid]
    if op == "has" and question.type != "multiple":
        raise DefinitionError([("if", f"'has' tests a multiple choice question; {qid} is {question.type}")])
    if op in ("<", "<=", ">", ">=") and question.type not in ("number", "rating", "date"):
        raise DefinitionError([("if", f"{op} compares numbers or dates; {qid} is {question.type}")])
    if op in ("in", "not in"):
        if not isinstance(value, list | tuple) or not value:
            raise DefinitionError([("if", f"{op} takes a list of values, like (1, 2)")])
        normalized: Any = [_condition_value(question, item) for item in value]
    elif question.type == "multiple" and op in ("==", "!=") and isinstance(value, list | tuple):
        normalized = sorted(_condition_value(question, item) for item in value)
    else:
        normalized = _condition_value(question, value)
    return Comparison(question=qid, op=op, value=normalized)


def _condition_value(question: Question, value: Any) -> Any:
    """A condition's value in the form answers take, checked the way an answer is (bounds aside)."""
    probe = Question(
        id=question.id, text="", type="single" if question.type == "multiple" else question.type,
        required=True, choices=question.choices, decimals=True, max_length=MAX_TEXT_LENGTH,
    )
    try:
        return validate_answer(probe, value)
    except AnswerError as error:
        raise DefinitionError([("if", f"{value!r} cannot be an answer to {question.id}: {error.message}")]) from error


def _literal(text: str) -> Any:
    text = text.strip()
    if text[:1] in "([" and text[-1:] in ")]":
        inner = text[1:-1].strip()
        return [_literal(part) for part in inner.split(",") if part.strip()] if inner else []
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "'\"":
        return text[1:-1]
    try:
        return int(text)
    except ValueError:
        pass
    try:
        return float(text)
    except ValueError:
        return text


def _plain_text(
    value: Any, where: str, problems: list[tuple[str, str]], *, limit: int, required: bool = False
) -> str:
    if value is None and not required:
        return ""
    if not isinstance(value, str) or (required and not value.strip()):
        problems.append((where, "must be a non-empty text" if required else "must be a text"))
        return ""
    if len(value) > limit:
        problems.append((where, f"at most {limit} characters"))
    return value.strip()


def _check_placeholders(text: str, where: str, earlier: set[str], problems: list[tuple[str, str]]) -> None:
    for matched in _PLACEHOLDER.finditer(text):
        name = matched.group(1)
        if name is None:
            continue
        name = name.strip()
        if name in earlier or name in CONTACT_FIELDS or (name.startswith("custom.") and len(name) > 7):
            continue
        problems.append(
            (where, f"{{{name}}} is neither an earlier question nor a contact field ({', '.join(CONTACT_FIELDS)}, "
                    "custom.NAME); write {{ and }} for braces")
        )


def _count(value: Any, where: str, problems: list[tuple[str, str]]) -> int | None:
    if value is None:
        return None
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        problems.append((where, "must be a whole number, 0 or more"))
        return None
    return value


def _number(value: Any, where: str, problems: list[tuple[str, str]]) -> float | None:
    if value is None:
        return None
    if not isinstance(value, int | float) or isinstance(value, bool) or not math.isfinite(value):
        problems.append((where, "must be a number"))
        return None
    return value


def _date(value: Any, where: str, problems: list[tuple[str, str]]) -> str | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(str(value)).isoformat()
    except ValueError:
        problems.append((where, "must be a date as YYYY-MM-DD"))
        return None


# ---------------------------------------------------------------------- answers


def validate_answer(question: Question, raw: Any) -> Any:
    """``raw`` as the stored answer to ``question`` (None: skipped), or ``AnswerError`` naming the question."""
    if raw is None or (isinstance(raw, str) and not raw.strip()) or (isinstance(raw, list | tuple) and not raw):
        if question.required:
            raise AnswerError(question.id, "an answer is required")
        return None
    kind = question.type
    if kind == "single":
        code = _as_int(question, raw, "must be one of the choice codes")
        if code not in {choice.code for choice in question.choices}:
            raise AnswerError(question.id, f"{code} is not one of the codes {_codes(question)}")
        return code
    if kind == "multiple":
        items = raw.split(",") if isinstance(raw, str) else raw
        if not isinstance(items, list | tuple | set | frozenset):
            raise AnswerError(question.id, "must be a list of choice codes")
        codes = sorted({_as_int(question, item, "must be a list of choice codes") for item in items})
        allowed = {choice.code for choice in question.choices}
        stray = [code for code in codes if code not in allowed]
        if stray:
            raise AnswerError(question.id, f"{stray[0]} is not one of the codes {_codes(question)}")
        low = question.min_choices if question.min_choices is not None else 1
        if len(codes) < low:
            raise AnswerError(question.id, f"choose at least {low}")
        if question.max_choices is not None and len(codes) > question.max_choices:
            raise AnswerError(question.id, f"choose at most {question.max_choices}")
        return codes
    if kind in ("number", "rating"):
        number = _as_number(question, raw)
        whole = kind == "rating" or not question.decimals
        if whole:
            if number != int(number):
                raise AnswerError(question.id, "must be a whole number")
            number = int(number)
        bottom, top = question.min, question.max
        if isinstance(bottom, int | float) and number < bottom:
            raise AnswerError(question.id, f"must be {_show(bottom)} or more")
        if isinstance(top, int | float) and number > top:
            raise AnswerError(question.id, f"must be {_show(top)} or less")
        return number
    if kind == "yesno":
        if isinstance(raw, bool):
            return raw
        word = str(raw).strip().casefold()
        if word in ("yes", "y", "true", "1"):
            return True
        if word in ("no", "n", "false", "2"):
            return False
        raise AnswerError(question.id, "must be yes (1) or no (2)")
    if kind == "text":
        if not isinstance(raw, str | int | float) or isinstance(raw, bool):
            raise AnswerError(question.id, "must be a text")
        text = "".join(ch for ch in str(raw).strip() if ch in "\n\t" or ch.isprintable())
        if len(text) > question.max_length:
            raise AnswerError(question.id, f"at most {question.max_length} characters")
        if not text:
            if question.required:
                raise AnswerError(question.id, "an answer is required")
            return None
        return text
    if kind == "date":
        if isinstance(raw, date):
            day = raw
        else:
            try:
                day = date.fromisoformat(str(raw).strip())
            except ValueError:
                raise AnswerError(question.id, "must be a date as YYYY-MM-DD") from None
        iso = day.isoformat()
        if isinstance(question.min, str) and iso < question.min:
            raise AnswerError(question.id, f"must be {question.min} or later")
        if isinstance(question.max, str) and iso > question.max:
            raise AnswerError(question.id, f"must be {question.max} or earlier")
        return iso
    raise AnswerError(question.id, f"unknown question type {kind!r}")


def _as_int(question: Question, raw: Any, message: str) -> int:
    if isinstance(raw, bool):
        raise AnswerError(question.id, message)
    if isinstance(raw, int):
        return raw
    if isinstance(raw, float) and raw.is_integer():
        return int(raw)
    if isinstance(raw, str) and raw.strip().lstrip("-").isdigit() and len(raw.strip()) <= 12:
        return int(raw.strip())
    raise AnswerError(question.id, message)


def _as_number(question: Question, raw: Any) -> float:
    if isinstance(raw, bool):
        raise AnswerError(question.id, "must be a number")
    if isinstance(raw, int | float):
        number = float(raw) if isinstance(raw, float) else raw
    elif isinstance(raw, str) and len(raw.strip()) <= 30:
        try:
            number = float(raw.strip().replace(",", ""))
        except ValueError:
            raise AnswerError(question.id, "must be a number") from None
    else:
        raise AnswerError(question.id, "must be a number")
    if not math.isfinite(number):
        raise AnswerError(question.id, "must be a number")
    return number


def _codes(question: Question) -> str:
    return ", ".join(str(choice.code) for choice in question.choices)


def _bound(value: float | str | None, default: float) -> float:
    return value if isinstance(value, int | float) else default


def _show(number: float) -> str:
    return str(int(number)) if float(number).is_integer() else str(number)


def spoken_answer(question: Question, value: Any) -> str:
    """An answer as words, for piping into a later question's text."""
    if value is None:
        return ""
    if question.type == "single":
        return question.label(value)
    if question.type == "multiple":
        return ", ".join(question.label(code) for code in value)
    if question.type == "yesno":
        return "yes" if value else "no"
    if question.type == "date":
        day = date.fromisoformat(value)
        return f"{day:%B} {day.day}, {day.year}"
    if isinstance(value, float):
        return _show(value)
    return str(value)


# ---------------------------------------------------------------------- the runner


@dataclass(frozen=True)
class Ask:
    """The next question to put, with its text piped; the renderer escapes it like any text."""

    question: Question
    text: str
    position: int  # 1 for the first question asked on this path
    intro: str = ""  # the questionnaire's introduction, piped, with the first question only


@dataclass(frozen=True)
class Finished:
    status: str  # complete | screened_out
    reason: str  # "" for complete; "quota <id>" or "rule at <question>" when screened out
    text: str


Step = Ask | Finished


@dataclass(frozen=True)
class Interview:
    """One respondent's way through a questionnaire, rebuilt from the answers at any time.

    ``answers`` may hold answers off the current path (given before an earlier
    answer changed the route); they count again only if the path comes back to them.
    """

    questionnaire: Questionnaire
    answers: Mapping[str, Any] = field(default_factory=dict)
    context: Mapping[str, Any] = field(default_factory=dict)
    full: frozenset[str] = frozenset()

    def walk(self) -> tuple[list[str], Step]:
        """The answered questions on the path, in order, and where the path stops."""
        questionnaire = self.questionnaire
        path: list[str] = []
        on_path: dict[str, Any] = {}
        position = 0
        while position < len(questionnaire.questions):
            question = questionnaire.questions[position]
            if question.id not in self.answers:
                intro = self._render(questionnaire.intro, on_path) if not path else ""
                return path, Ask(question, self._render(question.text, on_path), len(path) + 1, intro)
            path.append(question.id)
            on_path[question.id] = self.answers[question.id]
            for cell in questionnaire.quotas:
                if cell.id in self.full and cell.when.holds(on_path):
                    return path, self._finished(SCREENED_OUT, f"quota {cell.id}", on_path)
            target = next((rule.target for rule in question.rules if rule.when is None or rule.when.holds(on_path)),
                          None)
            if target == END:
                break
            if target == SCREEN_OUT:
                return path, self._finished(SCREENED_OUT, f"rule at {question.id}", on_path)
            position = position + 1 if target is None else questionnaire.index(target)
        return path, self._finished(COMPLETE, "", on_path)

    def step(self) -> Step:
        return self.walk()[1]

    def path_answers(self) -> dict[str, Any]:
        """Only the answers on the path: what an export or a quota count reads."""
        path, _ = self.walk()
        return {qid: self.answers[qid] for qid in path}

    def answered(self) -> list[tuple[Ask, Any]]:
        """The questions answered on the path, each as it was put (piped with the answers before it), with
        its answer: what a console shows when the interviewer goes back to check or correct one."""
        path, _ = self.walk()
        on_path: dict[str, Any] = {}
        asked: list[tuple[Ask, Any]] = []
        for position, question_id in enumerate(path, start=1):
            question = self.questionnaire.question(question_id)
            intro = self._render(self.questionnaire.intro, on_path) if position == 1 else ""
            asked.append((Ask(question, self._render(question.text, on_path), position, intro),
                          self.answers[question_id]))
            on_path[question_id] = self.answers[question_id]
        return asked

    def answer(self, question_id: str, raw: Any) -> Interview:
        """A new interview with ``raw`` as the answer to ``question_id``: the question asked now, or one
        already answered on the path (a correction, which may change the route)."""
        path, step = self.walk()
        current = step.question.id if isinstance(step, Ask) else None
        if question_id != current and question_id not in path:
            try:
                self.questionnaire.question(question_id)
            except KeyError:
                raise AnswerError(question_id, "is not a question of this questionnaire") from None
            raise AnswerError(question_id, "is not asked now: answer the current question first")
        value = validate_answer(self.questionnaire.question(question_id), raw)
        answers = dict(self.answers)
        answers[question_id] = value
        return Interview(self.questionnaire, answers, self.context, self.full)

    def render(self, text: str) -> str:
        """``text`` with the path's answers and the contact's fields piped in."""
        return self._render(text, self.path_answers())

    def _render(self, text: str, on_path: Mapping[str, Any]) -> str:
        def fill(matched: re.Match[str]) -> str:
            whole = matched.group(0)
            if whole in ("{{", "}}"):
                return whole[0]
            name = matched.group(1).strip()
            if name in on_path:
                return spoken_answer(self.questionnaire.question(name), on_path[name])
            if name.startswith("custom."):
                custom = self.context.get("custom_fields") or {}
                value = custom.get(name[7:]) if isinstance(custom, Mapping) else None
            else:
                value = self.context.get(name)
            return "" if value is None else str(value)

        return _PLACEHOLDER.sub(fill, text)

    def _finished(self, status: str, reason: str, on_path: Mapping[str, Any]) -> Finished:
        q = self.questionnaire
        text = q.closing if status == COMPLETE else q.screen_out_message
        return Finished(status, reason, self._render(text, on_path))


# ---------------------------------------------------------------------- quotas


def cells_of(questionnaire: Questionnaire, answers: Mapping[str, Any]) -> list[str]:
    """The quota cells a respondent with these (on-path) answers falls in."""
    return [cell.id for cell in questionnaire.quotas if cell.when.holds(answers)]


def full_cells(questionnaire: Questionnaire, counts: Mapping[str, int]) -> frozenset[str]:
    """Cells whose completed interviews reached their target (a target of 0 is closed from the start)."""
    return frozenset(cell.id for cell in questionnaire.quotas if counts.get(cell.id, 0) >= cell.target)


def contact_in_full_cell(
    questionnaire: Questionnaire, full: Iterable[str], attributes: Mapping[str, Any]
) -> str | None:
    """The full cell a contact falls in by what the list already says about them, or None.

    Only cells with a ``contact`` mapping can tell; every attribute the cell
    names must match, and an attribute the contact lacks never matches, so a
    contact is skipped only when it is known to belong to a full cell.
    """
    closed = set(full)
    for cell in questionnaire.quotas:
        if cell.id not in closed or not cell.contact:
            continue
        if all(_attribute(attributes, name) in values for name, values in cell.contact.items()):
            return cell.id
    return None


def _attribute(attributes: Mapping[str, Any], name: str) -> str | None:
    if name.startswith("custom."):
        custom = attributes.get("custom_fields") or {}
        value = custom.get(name[7:]) if isinstance(custom, Mapping) else None
    else:
        value = attributes.get(name)
    if value is None or isinstance(value, Mapping | list):
        return None
    text = str(value).strip().casefold()
    return text or None


# ---------------------------------------------------------------------- phone keypad (IVR)


@dataclass(frozen=True)
class IvrPrompt:
    """What a carrier plays and gathers: ``say`` the text, gather up to ``num_digits`` keys (None: until
    ``finish_on_key``), or hang up after saying it."""

    say: str
    question_id: str | None = None
    num_digits: int | None = None
    finish_on_key: str | None = None
    hangup: bool = False


SKIP_KEY = "*"


def ivr_problems(questionnaire: Questionnaire) -> list[tuple[str, str]]:
    """What keeps a questionnaire from running on a phone keypad, by field."""
    problems: list[tuple[str, str]] = []
    for question in questionnaire.questions:
        if question.type == "text":
            problems.append((f"{question.id}.type", "free text cannot be typed on a phone keypad"))
        elif question.type in ("single", "multiple") and len(question.choices) > IVR_MAX_CHOICES:
            problems.append((f"{question.id}.choices", f"at most {IVR_MAX_CHOICES} choices, one per key"))
        elif question.type == "number" and question.decimals:
            problems.append((f"{question.id}.decimals", "a phone keypad types whole numbers only"))
        elif question.type == "number" and isinstance(question.min, int | float) and question.min < 0:
            problems.append((f"{question.id}.min", "a phone keypad cannot type a negative number"))
    return problems


def ivr_prompt(step: Step, *, error: str = "") -> IvrPrompt:
    """The words and the key gathering for the interview's current step.

    Choices are numbered 1 to 9 in their order (not by code), yes is 1 and no
    is 2, numbers and ratings end with the pound key, a date is eight digits
    (month, day, year) and star skips a question that is not required.
    """
    if isinstance(step, Finished):
        return IvrPrompt(say=step.text, hangup=True)
    question = step.question
    parts = [error] if error else [step.intro]
    parts.append(step.text)
    num_digits: int | None
    finish: str | None = "#"
    if question.type == "single":
        parts += [f"For {choice.label}, press {key}." for key, choice in enumerate(question.choices, start=1)]
        num_digits = 1
    elif question.type == "multiple":
        parts += [f"For {choice.label}, press {key}." for key, choice in enumerate(question.choices, start=1)]
        parts.append("Press the key of every answer that applies, then press pound.")
        num_digits = None
    elif question.type == "yesno":
        parts.append("For yes, press 1. For no, press 2.")
        num_digits = 1
    elif question.type == "rating":
        low, high = _bound(question.min, 0), _bound(question.max, 10)
        parts.append(f"Enter a number from {_show(low)} to {_show(high)}, then press pound.")
        num_digits = 2
    elif question.type == "number":
        parts.append("Enter the number on your keypad, then press pound.")
        num_digits = None
    elif question.type == "date":
        parts.append("Enter the date as two digits for the month, two for the day and four for the year.")
        num_digits = 8
    else:
        raise AnswerError(question.id, "free text cannot be typed on a phone keypad")
    if not question.required:
        parts.append("To skip this question, press star.")
    return IvrPrompt(say=" ".join(part for part in parts if part), question_id=question.id,
                     num_digits=num_digits, finish_on_key=finish)


def ivr_value(question: Question, digits: str) -> Any:
    """The keys a respondent pressed as a raw answer for ``Interview.answer`` (which validates it)."""
    keys = (digits or "").strip().rstrip("#")
    if keys == SKIP_KEY:
        if question.required:
            raise AnswerError(question.id, "an answer is required")
        return None
    if not keys:
        raise AnswerError(question.id, "no keys were pressed")
    if not keys.isdigit() or not keys.isascii():
        raise AnswerError(question.id, "only the digit keys answer this question")
    if question.type in ("single", "multiple"):
        picked = []
        for key in keys if question.type == "multiple" else [keys]:
            number = int(key)
            if not 1 <= number <= len(question.choices):
                raise AnswerError(question.id, f"key {key} is not one of the choices")
            picked.append(question.choices[number - 1].code)
        return picked[0] if question.type == "single" else picked
    if question.type == "yesno":
        if keys not in ("1", "2"):
            raise AnswerError(question.id, "press 1 for yes or 2 for no")
        return keys == "1"
    if question.type in ("number", "rating"):
        return int(keys)
    if question.type == "date":
        if len(keys) != 8:
            raise AnswerError(question.id, "a date is eight digits: month, day, year")
        try:
            return date(int(keys[4:]), int(keys[:2]), int(keys[2:4])).isoformat()
        except ValueError:
            raise AnswerError(question.id, "that is not a date") from None
    raise AnswerError(question.id, "free text cannot be typed on a phone keypad")
