"""Surveys on the database: questionnaire versions, interviews that resume, quotas and the export.

The rules (what to ask next, what an answer may be, who is screened out) are
``campaigns.questionnaire``'s; this module keeps what they need between calls.
An interview is rebuilt from its stored answers on every step, so a call that
drops halfway leaves a partial response that the next call resumes at the
first unanswered question on its path, with the version it started on.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from campaigns.csv_safety import safe_csv_writer
from campaigns.models import CallAttempt, Campaign, Contact, ContactPhone, utcnow
from campaigns.questionnaire import (
    COMPLETE,
    SCREENED_OUT,
    AnswerError,
    Ask,
    DefinitionError,
    Finished,
    Interview,
    Question,
    Questionnaire,
    Step,
    cells_of,
    contact_in_full_cell,
    full_cells,
    ivr_problems,
    parse_questionnaire,
    spoken_answer,
)
from campaigns.survey_models import (
    SURVEY_MODES,
    CampaignSurvey,
    QuestionnaireVersion,
    SurveyAnswer,
    SurveyResponse,
)
from campaigns.survey_models import Questionnaire as QuestionnaireRow

RESPONDENT_COLUMNS = (
    ("contact_id", "The contact's id in the dialer"),
    ("external_id", "The contact's id in the list it came from"),
    ("phone", "The number the interview was given on"),
    ("campaign", "The campaign's name"),
    ("version", "The questionnaire version asked"),
    ("status", "partial, complete or screened_out"),
    ("end_reason", "Why a screened-out interview ended: quota <cell> or rule at <question>"),
    ("started", "When the first question was put (UTC, ISO 8601)"),
    ("completed", "When the interview ended (UTC, ISO 8601); empty while partial"),
)


class SurveyError(ValueError):
    """A survey action was refused; ``field`` names what to fix (a question's id for a refused answer)."""

    def __init__(self, field: str, message: str) -> None:
        self.field = field
        self.message = message
        super().__init__(f"{field}: {message}")


@dataclass(frozen=True)
class InterviewState:
    """A response with the interview rebuilt from its answers, and where it stands now."""

    response: SurveyResponse
    version: QuestionnaireVersion
    interview: Interview

    @property
    def step(self) -> Step:
        """Where the interview stands; a closed one stays as it was closed, whatever quotas did since."""
        response = self.response
        if response.status == "partial":
            return self.interview.step()
        q = self.interview.questionnaire
        text = q.closing if response.status == COMPLETE else q.screen_out_message
        return Finished(response.status, response.end_reason, self.interview.render(text))

    @property
    def questionnaire(self) -> Questionnaire:
        return self.interview.questionnaire


# ---------------------------------------------------------------------- questionnaires and versions


def load_definition(definition: Any) -> Questionnaire:
    """The checked questionnaire, or ``SurveyError`` naming the first field to fix (all of them in the message)."""
    try:
        return parse_questionnaire(definition)
    except DefinitionError as error:
        raise SurveyError(error.field, "; ".join(f"{w}: {m}" for w, m in error.problems)) from error


def get_questionnaire(session: Session, ref: int | str) -> QuestionnaireRow:
    """A questionnaire by id or name."""
    text = str(ref).strip()
    found = None
    if text.isdigit() and len(text) < 10:
        found = session.get(QuestionnaireRow, int(text))
    if found is None:
        found = session.scalar(select(QuestionnaireRow).where(QuestionnaireRow.name == text))
    if found is None:
        raise SurveyError("questionnaire", f"no questionnaire has the id or name {text!r}")
    return found


def versions(session: Session, questionnaire: QuestionnaireRow) -> list[QuestionnaireVersion]:
    return list(
        session.scalars(
            select(QuestionnaireVersion)
            .where(QuestionnaireVersion.questionnaire_id == questionnaire.id)
            .order_by(QuestionnaireVersion.version)
        )
    )


def add_version(
    session: Session, name: str, definition: Any, *, description: str = "", created_by: str = ""
) -> tuple[QuestionnaireVersion, bool]:
    """Store ``definition`` as the next version of the questionnaire called ``name`` (made if new).

    Returns the version and whether it is new: a definition equal to the newest
    version's is not stored twice, so importing one file again changes nothing.
    """
    name = " ".join(str(name).split())
    if not name or len(name) > 200:
        raise SurveyError("name", "a questionnaire needs a name of 1 to 200 characters")
    load_definition(definition)
    questionnaire = session.scalar(select(QuestionnaireRow).where(QuestionnaireRow.name == name))
    if questionnaire is None:
        questionnaire = QuestionnaireRow(name=name, description=description)
        session.add(questionnaire)
        session.flush()
    elif description:
        questionnaire.description = description
    existing = versions(session, questionnaire)
    if existing and existing[-1].definition == definition:
        return existing[-1], False
    version = QuestionnaireVersion(
        questionnaire_id=questionnaire.id,
        version=(existing[-1].version + 1) if existing else 1,
        definition=definition,
        created_by=created_by,
    )
    session.add(version)
    session.flush()
    return version, True


def publish(session: Session, questionnaire: QuestionnaireRow, number: int | None = None) -> QuestionnaireVersion:
    """Make a version (the newest if ``number`` is None) the one new interviews start on."""
    every = versions(session, questionnaire)
    chosen = every[-1] if number is None and every else next((v for v in every if v.version == number), None)
    if chosen is None:
        raise SurveyError("version", f"{questionnaire.name} has no version {number}")
    # Publishing an older version again makes it current: newest published_at wins.
    chosen.published_at = utcnow()
    session.flush()
    return chosen


def published_version(session: Session, questionnaire_id: int) -> QuestionnaireVersion | None:
    return session.scalar(
        select(QuestionnaireVersion)
        .where(QuestionnaireVersion.questionnaire_id == questionnaire_id,
               QuestionnaireVersion.published_at.is_not(None))
        .order_by(QuestionnaireVersion.published_at.desc(), QuestionnaireVersion.version.desc())
        .limit(1)
    )


def assign(
    session: Session, campaign: Campaign, questionnaire: QuestionnaireRow, mode: str = "agent"
) -> CampaignSurvey:
    """Have ``campaign`` ask ``questionnaire``: read by agents, or played on the phone (``ivr``)."""
    if mode not in SURVEY_MODES:
        raise SurveyError("mode", f"must be one of {', '.join(SURVEY_MODES)}")
    version = published_version(session, questionnaire.id)
    if version is None:
        raise SurveyError("questionnaire", f"{questionnaire.name} has no published version yet")
    if mode == "ivr":
        problems = ivr_problems(load_definition(version.definition))
        if problems:
            raise SurveyError(problems[0][0], "; ".join(f"{w}: {m}" for w, m in problems))
    link = session.get(CampaignSurvey, campaign.id)
    if link is None:
        link = CampaignSurvey(campaign_id=campaign.id, questionnaire_id=questionnaire.id, mode=mode)
        session.add(link)
    else:
        link.questionnaire_id, link.mode, link.assigned_at = questionnaire.id, mode, utcnow()
    session.flush()
    return link


def unassign(session: Session, campaign: Campaign) -> bool:
    """Stop ``campaign`` asking a questionnaire; its interviews and answers stay for the export."""
    link = session.get(CampaignSurvey, campaign.id)
    if link is None:
        return False
    session.delete(link)
    session.flush()
    return True


def campaign_survey(session: Session, campaign_id: int) -> CampaignSurvey | None:
    return session.get(CampaignSurvey, campaign_id)


def _current_version(session: Session, campaign_id: int) -> QuestionnaireVersion:
    link = campaign_survey(session, campaign_id)
    if link is None:
        raise SurveyError("campaign", "this campaign asks no questionnaire")
    version = published_version(session, link.questionnaire_id)
    if version is None:
        raise SurveyError("questionnaire", "the campaign's questionnaire has no published version")
    return version


# ---------------------------------------------------------------------- interviews


def contact_context(contact: Contact) -> dict[str, Any]:
    """What a question's text may pipe in about the contact."""
    return {
        "first_name": contact.first_name,
        "last_name": contact.last_name,
        "email": contact.email,
        "state": contact.state,
        "postal_code": contact.postal_code,
        "external_id": contact.external_id,
        "timezone": contact.timezone,
        "custom_fields": dict(contact.custom_fields or {}),
    }


def start_interview(
    session: Session, campaign_id: int, contact_id: int, *, attempt_id: int | None = None
) -> InterviewState:
    """The contact's interview in this campaign: resumed where it stopped, or started on the published version."""
    contact = session.get(Contact, contact_id)
    if contact is None or contact.campaign_id != campaign_id:
        raise SurveyError("contact_id", f"contact {contact_id} is not in campaign {campaign_id}")
    if attempt_id is not None:
        _check_attempt(session, attempt_id, campaign_id, contact_id)
    response = _response_of(session, campaign_id, contact_id)
    if response is None:
        version = _current_version(session, campaign_id)
        response = SurveyResponse(
            campaign_id=campaign_id, contact_id=contact_id, version_id=version.id, attempt_id=attempt_id,
        )
        try:
            with session.begin_nested():
                session.add(response)
        except IntegrityError:
            # Another call started this contact's interview at the same moment: resume theirs.
            response = _response_of(session, campaign_id, contact_id)
            if response is None:
                raise
    return _state(session, response, contact)


def load_interview(session: Session, response_id: int) -> InterviewState:
    response = session.get(SurveyResponse, response_id)
    if response is None:
        raise SurveyError("response_id", f"no survey response {response_id}")
    contact = session.get(Contact, response.contact_id)
    assert contact is not None  # a foreign key
    return _state(session, response, contact)


def record_answer(
    session: Session, response_id: int, question_id: str, raw: Any, *, attempt_id: int | None = None
) -> InterviewState:
    """Validate and keep one answer, then close the interview if that answer ended it.

    A refused answer raises ``SurveyError`` whose ``field`` is the question's
    id.  The response row is locked while the answer is written, so two
    browser tabs answering at once cannot interleave.
    """
    response = session.scalar(select(SurveyResponse).where(SurveyResponse.id == response_id).with_for_update())
    if response is None:
        raise SurveyError("response_id", f"no survey response {response_id}")
    if response.status != "partial":
        raise SurveyError("status", f"this interview is {response.status.replace('_', ' ')} and takes no more answers")
    if attempt_id is not None:
        _check_attempt(session, attempt_id, response.campaign_id, response.contact_id)
    contact = session.get(Contact, response.contact_id)
    assert contact is not None
    state = _state(session, response, contact)
    try:
        answered = state.interview.answer(question_id, raw)
    except AnswerError as error:
        raise SurveyError(error.field, error.message) from error
    now = utcnow()
    row = session.scalar(
        select(SurveyAnswer).where(SurveyAnswer.response_id == response.id, SurveyAnswer.question_id == question_id)
    )
    value = answered.answers[question_id]
    if row is None:
        session.add(SurveyAnswer(response_id=response.id, question_id=question_id, value=value,
                                 attempt_id=attempt_id, answered_at=now))
    else:
        row.value, row.attempt_id, row.answered_at = value, attempt_id, now
    response.updated_at = now
    step = answered.step()
    if isinstance(step, Finished) and step.status == COMPLETE and answered.questionnaire.quotas:
        step = _take_place(session, response, answered, step)
    if isinstance(step, Finished):
        _close(session, response, answered, step, now)
    session.flush()
    return InterviewState(response, state.version, answered)


def _take_place(session: Session, response: SurveyResponse, interview: Interview, step: Finished) -> Finished:
    """Count the cells again under a lock on the campaign's survey row before an interview completes.

    The full cells read when the answer arrived may be stale: another interview
    may have completed the last place of a cell since.  Completions of one
    campaign take turns on the lock (PostgreSQL; SQLite writes one at a time
    anyway), so a cell never ends over its target; the one that came second
    is screened out.
    """
    session.execute(
        select(CampaignSurvey.campaign_id).where(CampaignSurvey.campaign_id == response.campaign_id).with_for_update()
    )
    questionnaire = interview.questionnaire
    full = full_cells(questionnaire, quota_counts(session, response.campaign_id, questionnaire))
    for cell_id in cells_of(questionnaire, interview.path_answers()):
        if cell_id in full:
            return Finished(SCREENED_OUT, f"quota {cell_id}", interview.render(questionnaire.screen_out_message))
    return step


def _close(session: Session, response: SurveyResponse, interview: Interview, step: Finished, now: datetime) -> None:
    response.status = step.status
    response.end_reason = step.reason
    response.completed_at = now
    kept = set(interview.path_answers())
    for row in session.scalars(select(SurveyAnswer).where(SurveyAnswer.response_id == response.id)):
        if row.question_id not in kept:
            session.delete(row)  # given on a route the respondent later left


def _state(session: Session, response: SurveyResponse, contact: Contact) -> InterviewState:
    version = session.get(QuestionnaireVersion, response.version_id)
    assert version is not None
    questionnaire = load_definition(version.definition)
    answers = {
        row.question_id: row.value
        for row in session.scalars(select(SurveyAnswer).where(SurveyAnswer.response_id == response.id))
    }
    full = full_cells(questionnaire, quota_counts(session, response.campaign_id, questionnaire)) \
        if questionnaire.quotas and response.status == "partial" else frozenset()
    return InterviewState(response, version, Interview(questionnaire, answers, contact_context(contact), full))


def _response_of(session: Session, campaign_id: int, contact_id: int) -> SurveyResponse | None:
    return session.scalar(
        select(SurveyResponse).where(SurveyResponse.campaign_id == campaign_id, SurveyResponse.contact_id == contact_id)
    )


def _check_attempt(session: Session, attempt_id: int, campaign_id: int, contact_id: int) -> None:
    attempt = session.get(CallAttempt, attempt_id)
    if attempt is None or attempt.campaign_id != campaign_id or attempt.contact_id != contact_id:
        raise SurveyError("attempt_id", f"call {attempt_id} is not a call to this contact in this campaign")


# ---------------------------------------------------------------------- quotas


def quota_counts(session: Session, campaign_id: int, questionnaire: Questionnaire) -> dict[str, int]:
    """Completed interviews of the campaign in each of ``questionnaire``'s quota cells.

    Counted from the answers themselves, with this questionnaire's cell
    definitions, so a new version's cells count earlier completes too.
    """
    counts = {cell.id: 0 for cell in questionnaire.quotas}
    if not counts:
        return counts
    tested = sorted(set().union(*(cell.when.questions() for cell in questionnaire.quotas)))
    rows = session.execute(
        select(SurveyAnswer.response_id, SurveyAnswer.question_id, SurveyAnswer.value)
        .join(SurveyResponse, SurveyResponse.id == SurveyAnswer.response_id)
        .where(SurveyResponse.campaign_id == campaign_id, SurveyResponse.status == COMPLETE,
               SurveyAnswer.question_id.in_(tested))
    )
    by_response: dict[int, dict[str, Any]] = defaultdict(dict)
    for response_id, question_id, value in rows:
        by_response[response_id][question_id] = value
    for answers in by_response.values():
        for cell_id in cells_of(questionnaire, answers):
            counts[cell_id] += 1
    return counts


def quota_report(session: Session, campaign_id: int) -> list[dict[str, Any]]:
    """Each cell of the campaign's published questionnaire with its target, completes and whether it is full."""
    questionnaire = load_definition(_current_version(session, campaign_id).definition)
    counts = quota_counts(session, campaign_id, questionnaire)
    return [
        {"id": cell.id, "label": cell.label, "target": cell.target, "completes": counts[cell.id],
         "full": counts[cell.id] >= cell.target, "contact": {k: list(v) for k, v in cell.contact.items()}}
        for cell in questionnaire.quotas
    ]


def quota_screen(session: Session, campaign_id: int) -> Callable[[Contact], str | None]:
    """For dialing: a function naming the full cell a contact belongs to by its list fields (None: dial it).

    Counted once when made; the hopper makes one per refill.  A campaign that
    asks no questionnaire, or whose cells are not full, skips nobody.
    """
    screen = full_cell_screen(session, campaign_id)
    if screen is None:
        return lambda contact: None
    return lambda contact: screen(contact_context(contact))


def full_cell_screen(session: Session, campaign_id: int) -> Callable[[Mapping[str, Any]], str | None] | None:
    """``quota_screen`` on a contact's fields as a mapping (``contact_context``'s keys), for a caller that
    reads contacts as rows; None when no full cell names contact fields, so that caller can skip reading them.
    """
    link = campaign_survey(session, campaign_id)
    version = published_version(session, link.questionnaire_id) if link else None
    if version is None:
        return None
    questionnaire = load_definition(version.definition)
    if not any(cell.contact for cell in questionnaire.quotas):
        return None  # no cell can tell a contact's group before anyone speaks to them
    full = full_cells(questionnaire, quota_counts(session, campaign_id, questionnaire))
    if not any(cell.contact and cell.id in full for cell in questionnaire.quotas):
        return None
    return lambda attributes: contact_in_full_cell(questionnaire, full, attributes)


# ---------------------------------------------------------------------- export


@dataclass(frozen=True)
class _Column:
    name: str
    question: Question
    code: int | None  # the option of a multiple choice's 0/1 column
    versions: tuple[int, ...]


def export_responses(session: Session, campaign_id: int, sink: Any) -> int:
    """One CSV row per respondent of the campaign, one column per question (one per option of a multiple
    choice); answers off the respondent's path stay empty.  Returns the number of respondents written."""
    campaign, columns, used = _export_plan(session, campaign_id)
    writer = safe_csv_writer(sink)
    writer.writerow([name for name, _ in RESPONDENT_COLUMNS] + [column.name for column in columns])
    responses = session.scalars(
        select(SurveyResponse).where(SurveyResponse.campaign_id == campaign_id).order_by(SurveyResponse.id)
    ).all()
    answers_of: dict[int, dict[str, Any]] = defaultdict(dict)
    for response_id, question_id, value in session.execute(
        select(SurveyAnswer.response_id, SurveyAnswer.question_id, SurveyAnswer.value)
        .join(SurveyResponse, SurveyResponse.id == SurveyAnswer.response_id)
        .where(SurveyResponse.campaign_id == campaign_id)
    ):
        answers_of[response_id][question_id] = value
    contacts = _contacts(session, [response.contact_id for response in responses])
    phones = _phones(session, responses)
    for response in responses:
        version, questionnaire = used[response.version_id]
        on_path = Interview(questionnaire, answers_of[response.id]).path_answers()
        contact = contacts.get(response.contact_id)
        row: list[object] = [
            response.contact_id,
            contact.external_id if contact else "",
            phones.get(response.id, ""),
            campaign.name,
            version,
            response.status,
            response.end_reason,
            _iso(response.started_at),
            _iso(response.completed_at),
        ]
        row += [_cell(column, on_path) for column in columns]
        writer.writerow(row)
    return len(responses)


def export_codebook(session: Session, campaign_id: int, sink: Any) -> int:
    """The codebook of ``export_responses``: each column's question text, type, codes with labels and the
    versions that asked it.  Returns the number of columns described."""
    _, columns, _ = _export_plan(session, campaign_id)
    writer = safe_csv_writer(sink)
    writer.writerow(["column", "question", "text", "type", "codes", "versions"])
    for name, meaning in RESPONDENT_COLUMNS:
        writer.writerow([name, "", meaning, "respondent", "", ""])
    for column in columns:
        writer.writerow([column.name, column.question.id, column.question.text, column.question.type,
                         _codes(column), ", ".join(str(v) for v in column.versions)])
    return len(RESPONDENT_COLUMNS) + len(columns)


def _export_plan(
    session: Session, campaign_id: int
) -> tuple[Campaign, list[_Column], dict[int, tuple[int, Questionnaire]]]:
    """The campaign, the question columns (newest version's order first) and each used version parsed."""
    campaign = session.get(Campaign, campaign_id)
    if campaign is None:
        raise SurveyError("campaign", f"no campaign {campaign_id}")
    version_ids = set(session.scalars(
        select(SurveyResponse.version_id).where(SurveyResponse.campaign_id == campaign_id).distinct()
    ))
    link = campaign_survey(session, campaign_id)
    current = published_version(session, link.questionnaire_id) if link else None
    if current is not None:
        version_ids.add(current.id)
    rows = session.scalars(
        select(QuestionnaireVersion).where(QuestionnaireVersion.id.in_(version_ids))
        .order_by(QuestionnaireVersion.questionnaire_id, QuestionnaireVersion.version.desc())
    ).all()
    used = {row.id: (row.version, load_definition(row.definition)) for row in rows}
    names: dict[str, _Column] = {}
    for row in rows:  # newest first: its wording and order lead
        _, questionnaire = used[row.id]
        for question in questionnaire.questions:
            codes: Iterable[int | None] = (
                [choice.code for choice in question.choices] if question.type == "multiple" else [None]
            )
            for code in codes:
                name = question.id if code is None else f"{question.id}_{code}"
                if name in names:
                    known = names[name]
                    names[name] = _Column(name, known.question, code, (*known.versions, row.version))
                else:
                    names[name] = _Column(name, question, code, (row.version,))
    columns = [
        _Column(c.name, c.question, c.code, tuple(sorted(set(c.versions)))) for c in names.values()
    ]
    return campaign, columns, used


def _cell(column: _Column, on_path: Mapping[str, Any]) -> object:
    value = on_path.get(column.question.id)
    if value is None:
        return ""
    if column.code is not None:
        return 1 if isinstance(value, list) and column.code in value else 0
    if column.question.type == "yesno":
        return 1 if value else 2
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def _codes(column: _Column) -> str:
    question = column.question
    if column.code is not None:
        return f"1={question.label(column.code)} chosen; 0=not chosen"
    if question.type == "single":
        return "; ".join(f"{choice.code}={choice.label}" for choice in question.choices)
    if question.type == "yesno":
        return "1=yes; 2=no"
    if question.type in ("number", "rating"):
        low = "" if question.min is None else question.min
        high = "" if question.max is None else question.max
        kind = "decimal" if question.decimals else "whole number"
        return f"{kind} {low}..{high}".strip()
    if question.type == "date":
        return "YYYY-MM-DD"
    return f"text up to {question.max_length} characters"


def _contacts(session: Session, ids: list[int]) -> dict[int, Contact]:
    found: dict[int, Contact] = {}
    for start in range(0, len(ids), 500):
        for contact in session.scalars(select(Contact).where(Contact.id.in_(ids[start:start + 500]))):
            found[contact.id] = contact
    return found


def _phones(session: Session, responses: Iterable[SurveyResponse]) -> dict[int, str]:
    """The number of each response's latest answering call, else the contact's first number."""
    listed = list(responses)
    ids = [response.id for response in listed]
    phones: dict[int, str] = {}
    for start in range(0, len(ids), 500):
        chunk = ids[start:start + 500]
        latest = (
            select(SurveyAnswer.response_id, func.max(SurveyAnswer.attempt_id).label("attempt_id"))
            .where(SurveyAnswer.response_id.in_(chunk), SurveyAnswer.attempt_id.is_not(None))
            .group_by(SurveyAnswer.response_id)
            .subquery()
        )
        for response_id, e164 in session.execute(
            select(latest.c.response_id, CallAttempt.e164).join(CallAttempt, CallAttempt.id == latest.c.attempt_id)
        ):
            phones[response_id] = e164
    missing = sorted({response.contact_id for response in listed if response.id not in phones})
    first: dict[int, str] = {}
    for start in range(0, len(missing), 500):
        for phone in session.scalars(
            select(ContactPhone)
            .where(ContactPhone.contact_id.in_(missing[start:start + 500]))
            .order_by(ContactPhone.position.desc(), ContactPhone.id.desc())
        ):
            first[phone.contact_id] = phone.e164  # the lowest position is written last
    for response in listed:
        if response.id not in phones and response.contact_id in first:
            phones[response.id] = first[response.contact_id]
    return phones


def _iso(moment: datetime | None) -> str:
    return "" if moment is None else moment.isoformat(timespec="seconds")


def step_to_dict(state: InterviewState) -> dict[str, Any]:
    """The interview's current step as JSON, for a console or an API client.

    ``path`` holds the questions already answered on the way here, each piped
    as it was put and with its answer, so a console can go back to one and
    correct it (``record_answer`` takes any question on the path).
    """
    step = state.step
    base: dict[str, Any] = {
        "response_id": state.response.id,
        "title": state.questionnaire.title,
        "version": state.version.version,
        "status": state.response.status,
        "answers": dict(state.interview.path_answers()),
        "path": [question_to_dict(asked, value) for asked, value in state.interview.answered()],
    }
    if isinstance(step, Ask):
        base["question"] = question_to_dict(step)
    else:
        base["end"] = {"status": step.status, "reason": step.reason, "text": step.text}
    return base


def question_to_dict(step: Ask, value: Any = None) -> dict[str, Any]:
    """One question as put (its text piped), with what an answer form needs and the answer given, if any."""
    question = step.question
    return {
        "id": question.id, "text": step.text, "type": question.type, "required": question.required,
        "choices": [{"code": c.code, "label": c.label} for c in question.choices],
        "min": question.min, "max": question.max, "decimals": question.decimals,
        "max_length": question.max_length, "min_choices": question.min_choices,
        "max_choices": question.max_choices, "position": step.position, "intro": step.intro,
        "value": value, "shown": spoken_answer(question, value),
    }
