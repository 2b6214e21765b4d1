"""The campaign manager: creating and editing campaigns, uploading lists, list health.

Every change goes through ``campaigns.services`` (and the questionnaire a
campaign asks through ``campaigns.surveys``) so the rules of law hold
whichever door a campaign comes through; this module only turns forms into
settings and settings back into forms, and shows the refusal next to the
field it names.  Lists are uploaded to a folder outside the web root and
imported by a background job (``campaigns.jobs``), so a million-row file never
holds a request open; the page polls the job's progress.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import os
import re
import secrets
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import redis
from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    jsonify,
    redirect,
    render_template,
    request,
    send_file,
    url_for,
)
from flask.typing import ResponseReturnValue
from flask_login import current_user
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from campaigns import jobs, services, surveys
from campaigns.audit_store import append_event
from campaigns.importer import FIELDS, ListImportError, auto_field
from campaigns.list_health import LATER_BUCKETS, ListHealthReport, list_health, reasons_in_order
from campaigns.models import (
    CallAttempt,
    Campaign,
    CampaignStatus,
    Contact,
    ContactList,
    DispositionCode,
)
from campaigns.schedule import DAY_NAMES, ScheduleError, describe, parse_zone, schedule_state, windows_of
from campaigns.survey_models import SURVEY_MODES, CampaignSurvey, Questionnaire, QuestionnaireVersion
from web import get_session, resources
from web.auth import STAFF, blueprint_roles, error_response

bp = Blueprint("manager", __name__)
blueprint_roles(bp, *STAFF)

#: Settings kept on the campaign besides ``services.SETTINGS``: the script, caller IDs and schedule.
EXTRA_SETTINGS = ("script", "caller_ids", "schedule", "schedule_tz")
PREVIEW_ROWS = 5
PREVIEW_BYTES = 256 * 1024
MAX_UPLOAD_BYTES = 512 * 1024 * 1024
UPLOAD_KEEP_S = 14 * 24 * 3600
MERGE_FIELDS = ("first_name", "last_name", "phone", "agent_name", "campaign")
#: What a column may become on the mapping page, with the words shown for it.
MAPPING_CHOICES: tuple[tuple[str, str], ...] = (
    ("first_name", "First name"),
    ("last_name", "Last name"),
    ("phone", "Phone"),
    ("state", "State / province"),
    ("postal_code", "Postal code"),
    ("timezone", "Time zone"),
    ("email", "Email"),
    ("external_id", "External id"),
    ("priority", "Priority"),
    ("custom", "Custom field"),
    ("ignore", "Ignore"),
)
_SINGLE_FIELDS = {"first_name", "last_name", "state", "postal_code", "timezone", "email", "external_id", "priority"}
_TOKEN = re.compile(r"[0-9a-f]{32}")
_CODE = re.compile(r"[A-Z0-9_]{1,32}")
_DISPOSITION_FLAGS = ("human_answered", "final", "callback", "adds_to_dnc", "sale")
_COMMON_ZONES = (
    "America/New_York", "America/Chicago", "America/Denver", "America/Phoenix", "America/Los_Angeles",
    "America/Anchorage", "Pacific/Honolulu", "America/Toronto", "America/Vancouver", "America/Halifax",
    "America/St_Johns", "Europe/London", "Europe/Dublin", "Europe/Paris", "Europe/Berlin", "Australia/Sydney",
    "UTC",
)  # fmt: skip


# --------------------------------------------------------------------------- the campaigns table


@bp.get("/campaigns")
def campaigns() -> ResponseReturnValue:
    session = get_session()
    rows = services.list_campaigns(session)
    lists = _count_by_campaign(session, select(ContactList.campaign_id, func.count()).group_by(ContactList.campaign_id))
    contacts = _count_by_campaign(session, select(Contact.campaign_id, func.count()).group_by(Contact.campaign_id))
    attempts = _count_by_campaign(
        session, select(CallAttempt.campaign_id, func.count()).group_by(CallAttempt.campaign_id)
    )
    asked = {
        campaign_id: (name, mode) for campaign_id, name, mode in session.execute(
            select(CampaignSurvey.campaign_id, Questionnaire.name, CampaignSurvey.mode)
            .join(Questionnaire, Questionnaire.id == CampaignSurvey.questionnaire_id))
    }  # fmt: skip
    now = datetime.now(UTC)
    table = []
    for campaign in rows:
        table.append({
            "campaign": campaign,
            "lists": lists.get(campaign.id, 0),
            "contacts": contacts.get(campaign.id, 0),
            "attempts": attempts.get(campaign.id, 0),
            "schedule": _schedule_summary(campaign, now),
            "live": _live(campaign.id) if campaign.status == CampaignStatus.ACTIVE.value else None,
            "survey": asked.get(campaign.id),
        })  # fmt: skip
    by_status = {status.value: sum(1 for c in rows if c.status == status.value) for status in CampaignStatus}
    return render_template("manager/campaigns.html", table=table, by_status=by_status)


@bp.post("/campaigns/<int:campaign_id>/status")
def change_status(campaign_id: int) -> ResponseReturnValue:
    """Start, pause or finish by hand; the services refuse what the rules forbid (a lawless drop message...)."""
    session = get_session()
    campaign = _campaign_or_404(session, campaign_id)
    action = request.form.get("action", "")
    doors = {"start": services.start_campaign, "pause": services.pause_campaign, "finish": services.finish_campaign}
    door = doors.get(action)
    if door is None:
        return error_response(400, "action must be start, pause or finish", "action")
    before = campaign.status
    try:
        door(session, campaign)
    except services.CampaignError as error:
        session.rollback()
        flash(f"{campaign.name}: {error.message}", "error")
        return redirect(url_for("manager.campaigns"))
    if campaign.status != before:
        append_event(session.connection(), "campaign.status_changed",
                     {"actor": current_user.username, "from": before, "to": campaign.status, "by": "hand"},
                     campaign_id=campaign.id)  # fmt: skip
    session.commit()
    flash(f"{campaign.name} is {campaign.status}.", "ok")
    return redirect(url_for("manager.campaigns"))


# --------------------------------------------------------------------------- create and edit


@bp.route("/campaigns/new", methods=["GET", "POST"])
def new_campaign() -> ResponseReturnValue:
    session = get_session()
    defaults = {**services.campaign_defaults(), **_extra_defaults()}
    if request.method == "GET":
        return _form_page(None, _values_for_form(defaults), {}, _default_codes(session))
    values, codes, problems = _read_form(request.form)
    if not problems:
        try:
            core = {key: values[key] for key in services.SETTINGS if key in values}
            if not core.get("drop_message"):
                core.pop("drop_message", None)  # written from the name and caller ID
            extra = services.validate_settings(
                {"name": values.get("name", ""), "caller_id": values.get("caller_id", ""),
                 "default_region": values.get("default_region", "US"),
                 **{key: values[key] for key in EXTRA_SETTINGS if key in values}}
            )  # fmt: skip
            _check_drop_message(core)
            campaign = services.create_campaign(session, **core)
            for key in EXTRA_SETTINGS:
                if key in extra:
                    setattr(campaign, key, extra[key])
            _save_codes(session, campaign, codes)
            asked = _save_survey(session, campaign, values)
            session.flush()
            append_event(session.connection(), "campaign.created",
                         {"actor": current_user.username, "settings": services.campaign_to_dict(campaign),
                          **({"questionnaire": asked["to"]} if asked else {})},
                         campaign_id=campaign.id)  # fmt: skip
            session.commit()
        except services.CampaignError as error:
            session.rollback()
            problems[error.field] = error.message
        else:
            flash(f"Campaign {campaign.name} created as a draft. Upload a list, then start it.", "ok")
            return redirect(url_for("manager.edit_campaign", campaign_id=campaign.id))
    return _form_page(None, _raw_form(request.form), problems, codes), 400


@bp.route("/campaigns/<int:campaign_id>/edit", methods=["GET", "POST"])
def edit_campaign(campaign_id: int) -> ResponseReturnValue:
    session = get_session()
    campaign = _campaign_or_404(session, campaign_id)
    if request.method == "GET":
        form = _values_for_form(_current_settings(campaign))
        form.update(_survey_form(session, campaign))
        return _form_page(campaign, form, {}, _codes_of(session, campaign))
    values, codes, problems = _read_form(request.form)
    if not problems:
        try:
            changes = _apply_edit(session, campaign, values, codes)
            session.commit()
        except services.CampaignError as error:
            session.rollback()
            problems[error.field] = error.message
        else:
            what = ", ".join(changes) if changes else "nothing changed"
            flash(f"Saved {campaign.name}: {what}.", "ok")
            return redirect(url_for("manager.edit_campaign", campaign_id=campaign.id))
    return _form_page(campaign, _raw_form(request.form), problems, codes), 400


def _apply_edit(session: Session, campaign: Campaign, values: dict[str, Any], codes: list[dict[str, Any]]) -> list[str]:
    """Validate everything first, then write: pacing through its audited door, the rest with one audit event."""
    given = dict(values)
    if given.get("pacer") == campaign.pacer and given.get("dial_mode") != campaign.dial_mode:
        given.pop("pacer")  # the mode moved and the pacer field was left as it was: derive it from the mode
    if not given.get("pacer"):
        given.pop("pacer", None)
    checked = services.validate_settings(given)
    _check_drop_message(checked, name=checked["name"], purpose=checked.get("purpose", campaign.purpose),
                        region=checked["default_region"])  # fmt: skip
    if checked["name"] != campaign.name and session.scalar(
        select(Campaign.id).where(Campaign.name == checked["name"], Campaign.id != campaign.id)
    ) is not None:
        raise services.CampaignError("name", f"a campaign named {checked['name']!r} exists already")
    pacing = services.update_pacing(
        session, campaign, actor=current_user.username, target_abandon=checked.get("target_abandon"),
        max_dial_level=checked.get("max_dial_level"), pacer=checked["pacer"],
    )  # fmt: skip
    changed: dict[str, dict[str, Any]] = {}
    for key in (*services.SETTINGS, *EXTRA_SETTINGS):
        if key in services.PACING_SETTINGS or key == "dial_mode" or key not in checked:
            continue
        before = getattr(campaign, key)
        if checked[key] != before:
            changed[key] = {"from": before, "to": checked[key]}
            setattr(campaign, key, checked[key])
    code_changes = _save_codes(session, campaign, codes)
    asked = _save_survey(session, campaign, values)
    if asked is not None:
        changed["questionnaire"] = asked
    session.flush()
    if changed or code_changes:
        append_event(session.connection(), "campaign.settings_changed",
                     {"actor": current_user.username, "changes": changed, "dispositions": code_changes},
                     campaign_id=campaign.id)  # fmt: skip
    return [*pacing, *changed, *(["dispositions"] if code_changes else [])]


def _check_drop_message(values: Mapping[str, Any], *, name: str | None = None, purpose: str | None = None,
                        region: str | None = None) -> None:  # fmt: skip
    message = values.get("drop_message")
    if not message:
        return
    problem = services.drop_message_problem(
        message, name or values.get("name", ""), purpose or values.get("purpose", "telemarketing"),
        region or values.get("default_region", "US"),
    )  # fmt: skip
    if problem is not None:
        raise services.CampaignError("drop_message", problem)


def _form_page(campaign: Campaign | None, form: dict[str, Any], problems: dict[str, str],
               codes: list[dict[str, Any]]) -> str:  # fmt: skip
    custom = _custom_fields(campaign) if campaign is not None else []
    zones = list(_COMMON_ZONES)
    if form.get("schedule_tz") and form["schedule_tz"] not in zones:
        zones.insert(0, form["schedule_tz"])
    schedule_text: list[str] = []
    with contextlib.suppress(ScheduleError):
        schedule_text = describe(windows_of(form.get("schedule_rows") or []))
    return render_template(
        "manager/form.html", campaign=campaign, form=form, problems=problems, codes=codes,
        purposes=services.PURPOSES, dial_modes=services.DIAL_MODES, machine_actions=services.MACHINE_ACTIONS,
        day_names=DAY_NAMES, zones=zones, merge_fields=[*MERGE_FIELDS, *custom], custom_fields=custom,
        schedule_text=schedule_text, questionnaires=_questionnaires(), survey_modes=SURVEY_MODES,
    )  # fmt: skip


def _extra_defaults() -> dict[str, Any]:
    return {"script": "", "caller_ids": [], "schedule": [], "schedule_tz": "America/New_York",
            "questionnaire_id": "", "survey_mode": "agent"}


# --------------------------------------------------------------------------- the questionnaire


def _questionnaires() -> list[dict[str, Any]]:
    """Every questionnaire with its published version (None: not published, so it cannot be chosen yet)."""
    session = get_session()
    published = (
        select(QuestionnaireVersion.questionnaire_id, QuestionnaireVersion.version, QuestionnaireVersion.published_at)
        .where(QuestionnaireVersion.published_at.is_not(None))
    )
    newest: dict[int, tuple[Any, int]] = {}
    for questionnaire_id, version, published_at in session.execute(published):
        key = (published_at, version)
        if questionnaire_id not in newest or key > newest[questionnaire_id]:
            newest[questionnaire_id] = key
    return [
        {"id": row.id, "name": row.name, "version": newest[row.id][1] if row.id in newest else None}
        for row in session.scalars(select(Questionnaire).order_by(Questionnaire.name))
    ]


def _survey_form(session: Session, campaign: Campaign) -> dict[str, Any]:
    link = surveys.campaign_survey(session, campaign.id)
    if link is None:
        return {"questionnaire_id": "", "survey_mode": "agent"}
    return {"questionnaire_id": str(link.questionnaire_id), "survey_mode": link.mode}


def _survey_label(session: Session, questionnaire_id: int | None, mode: str) -> str | None:
    if questionnaire_id is None:
        return None
    row = session.get(Questionnaire, questionnaire_id)
    name = row.name if row is not None else f"#{questionnaire_id}"
    return f"{name} ({'read by agents' if mode == 'agent' else 'played by the phone'})"


def _save_survey(session: Session, campaign: Campaign, values: Mapping[str, Any]) -> dict[str, Any] | None:
    """Have the campaign ask the chosen questionnaire in the chosen mode, or none; returns the change.

    ``campaigns.surveys`` refuses a questionnaire that is not published and a
    phone survey a keypad cannot answer; the refusal is shown at the
    questionnaire's field (or the mode's).
    """
    if "questionnaire_id" not in values:
        return None
    wanted = str(values.get("questionnaire_id") or "").strip()
    mode = str(values.get("survey_mode") or "agent").strip()
    link = surveys.campaign_survey(session, campaign.id)
    before = _survey_label(session, link.questionnaire_id, link.mode) if link else None
    if not wanted:
        if link is None:
            return None
        surveys.unassign(session, campaign)
        return {"from": before, "to": None}
    if not wanted.isdigit() or len(wanted) > 9:
        raise services.CampaignError("questionnaire", f"choose a questionnaire from the list, not {wanted!r}")
    if link is not None and link.questionnaire_id == int(wanted) and link.mode == mode:
        return None
    try:
        questionnaire = surveys.get_questionnaire(session, int(wanted))
        surveys.assign(session, campaign, questionnaire, mode)
    except surveys.SurveyError as error:
        raise services.CampaignError("survey_mode" if error.field == "mode" else "questionnaire",
                                     error.message) from error
    return {"from": before, "to": _survey_label(session, questionnaire.id, mode)}


def _current_settings(campaign: Campaign) -> dict[str, Any]:
    data = services.campaign_to_dict(campaign)
    data.update({key: getattr(campaign, key) for key in EXTRA_SETTINGS})
    return data


def _values_for_form(settings: Mapping[str, Any]) -> dict[str, Any]:
    """Stored settings as the form's fields show them (lists as text, the target as a percentage)."""
    form = {key: value for key, value in settings.items() if value is not None}
    form["caller_ids"] = "\n".join(settings.get("caller_ids") or [])
    form["retry_delays_min"] = ", ".join(str(d) for d in settings.get("retry_delays_min") or [])
    form["target_abandon_pct"] = f"{float(settings.get('target_abandon', 0.03)) * 100:g}"
    form["schedule_rows"] = list(settings.get("schedule") or [])
    return form


def _raw_form(data: Mapping[str, Any]) -> dict[str, Any]:
    """What the person typed, to show again beside the problem (never lost to a refusal)."""
    form: dict[str, Any] = {key: data.get(key, "") for key in (
        "name", "description", "purpose", "dial_mode", "pacer", "caller_id", "caller_ids", "default_region",
        "ring_timeout_s", "max_attempts", "retry_delays_min", "target_abandon_pct", "safe_harbour_s",
        "max_dial_level", "machine_action", "voicemail_message", "drop_message", "calling_window",
        "recording_announcement", "script", "schedule_tz", "questionnaire_id", "survey_mode",
    )}  # fmt: skip
    for flag in ("amd_enabled", "requires_consent", "prerecorded", "record_calls"):
        form[flag] = data.get(flag) == "on"
    rows: list[dict[str, Any]] = []
    with contextlib.suppress(ValueError, KeyError):
        rows = _schedule_rows(data)
    form["schedule_rows"] = rows
    return form


def _read_form(data: Mapping[str, Any]) -> tuple[dict[str, Any], list[dict[str, Any]], dict[str, str]]:
    """The form as settings (typed), the disposition rows, and the problems found before the services look."""
    problems: dict[str, str] = {}
    values: dict[str, Any] = {}
    for key in ("name", "description", "purpose", "dial_mode", "caller_id", "default_region", "machine_action",
                "voicemail_message", "drop_message", "calling_window", "recording_announcement", "script"):
        values[key] = str(data.get(key, "")).strip() if key != "script" else str(data.get(key, ""))
    pacer = str(data.get("pacer", "")).strip()
    if pacer:
        values["pacer"] = pacer
    values["schedule_tz"] = str(data.get("schedule_tz", "")).strip() or "America/New_York"
    if "questionnaire_id" in data:  # a post without the field (an older form) leaves the questionnaire alone
        values["questionnaire_id"] = str(data.get("questionnaire_id", "")).strip()
        values["survey_mode"] = str(data.get("survey_mode", "")).strip() or "agent"
    for key in ("ring_timeout_s", "max_attempts"):
        text = str(data.get(key, "")).strip()
        try:
            values[key] = int(text)
        except ValueError:
            problems[key] = f"must be a whole number, not {text!r}"
    for key in ("safe_harbour_s", "max_dial_level"):
        text = str(data.get(key, "")).strip()
        try:
            values[key] = float(text)
        except ValueError:
            problems[key] = f"must be a number, not {text!r}"
    pct = str(data.get("target_abandon_pct", "")).strip().rstrip("%")
    try:
        values["target_abandon"] = round(float(pct) / 100, 6)
    except ValueError:
        problems["target_abandon"] = f"must be a percentage such as 2.5, not {pct!r}"
    delays = [part.strip() for part in re.split(r"[,\s]+", str(data.get("retry_delays_min", ""))) if part.strip()]
    try:
        values["retry_delays_min"] = [int(part) for part in delays]
    except ValueError:
        problems["retry_delays_min"] = "must be whole minutes separated by commas, e.g. 60, 240, 1440"
    values["caller_ids"] = [line.strip() for line in str(data.get("caller_ids", "")).splitlines() if line.strip()]
    for flag in ("amd_enabled", "requires_consent", "prerecorded", "record_calls"):
        values[flag] = data.get(flag) == "on"
    try:
        values["schedule"] = _schedule_rows(data)
    except ValueError as error:
        problems["schedule"] = str(error)
    codes, code_problem = _code_rows(data)
    if code_problem:
        problems["dispositions"] = code_problem
    return values, codes, problems


def _schedule_rows(data: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Rows ``schedule-N-start``, ``schedule-N-end``, ``schedule-N-day-D``; blank rows are dropped."""
    indexes = sorted({int(m.group(1)) for key in data if (m := re.fullmatch(r"schedule-(\d{1,3})-start", key))})
    rows = []
    for n in indexes:
        start = str(data.get(f"schedule-{n}-start", "")).strip()
        end = str(data.get(f"schedule-{n}-end", "")).strip()
        days = [day for day in range(7) if data.get(f"schedule-{n}-day-{day}") == "on"]
        if not start and not end and not days:
            continue
        rows.append({"days": days, "start": start, "end": end})
    return rows


def _code_rows(data: Mapping[str, Any]) -> tuple[list[dict[str, Any]], str | None]:
    """Disposition rows ``code-N-*`` as dicts; a row with no code and no label is dropped."""
    indexes = sorted({int(m.group(1)) for key in data if (m := re.fullmatch(r"code-(\d{1,3})-code", key))})
    rows: list[dict[str, Any]] = []
    problem = None
    seen: set[str] = set()
    for n in indexes:
        code = str(data.get(f"code-{n}-code", "")).strip().upper()
        label = str(data.get(f"code-{n}-label", "")).strip()
        if not code and not label:
            continue
        retry_text = str(data.get(f"code-{n}-retry_after_min", "")).strip()
        row: dict[str, Any] = {"code": code, "label": label or code, "retry_after_min": None}
        for flag in _DISPOSITION_FLAGS:
            row[flag] = data.get(f"code-{n}-{flag}") == "on"
        rows.append(row)
        if problem:
            continue
        if not _CODE.fullmatch(code):
            problem = f"row {n + 1}: the code {code!r} must be 1-32 capital letters, digits or _"
        elif code in seen:
            problem = f"the code {code} appears twice"
        elif retry_text:
            try:
                row["retry_after_min"] = int(retry_text)
                if row["retry_after_min"] <= 0:
                    raise ValueError
            except ValueError:
                problem = f"{code}: retry after must be a whole number of minutes above 0, not {retry_text!r}"
        if not problem and row["final"] and (row["retry_after_min"] or row["callback"]):
            problem = f"{code}: a final disposition is never retried or called back"
        seen.add(code)
    if not rows and not problem:
        problem = "keep at least one disposition code"
    return rows, problem


def _default_codes(session: Session) -> list[dict[str, Any]]:
    rows = session.scalars(select(DispositionCode).where(DispositionCode.campaign_id.is_(None))
                           .order_by(DispositionCode.id))  # fmt: skip
    return [_code_dict(row) for row in rows]


def _codes_of(session: Session, campaign: Campaign) -> list[dict[str, Any]]:
    """The campaign's own codes, or the default set it will copy on its first save."""
    own = list(session.scalars(select(DispositionCode).where(DispositionCode.campaign_id == campaign.id)
                               .order_by(DispositionCode.id)))  # fmt: skip
    return [_code_dict(row) for row in own] if own else _default_codes(session)


def _code_dict(row: DispositionCode) -> dict[str, Any]:
    return {"code": row.code, "label": row.label, "retry_after_min": row.retry_after_min,
            **{flag: bool(getattr(row, flag)) for flag in _DISPOSITION_FLAGS}}  # fmt: skip


def _save_codes(session: Session, campaign: Campaign, codes: list[dict[str, Any]]) -> dict[str, Any]:
    """Make the campaign's codes these rows (the first save copies the whole set); returns what changed."""
    existing = {row.code: row for row in session.scalars(
        select(DispositionCode).where(DispositionCode.campaign_id == campaign.id))}  # fmt: skip
    baseline: dict[str, dict[str, Any]] = (
        {code: _code_dict(row) for code, row in existing.items()} if existing
        else {row["code"]: row for row in _default_codes(session)}
    )
    changes: dict[str, Any] = {}
    wanted = {row["code"] for row in codes}
    for code, row in existing.items():
        if code not in wanted:
            session.delete(row)
            changes[code] = "removed"
    for values in codes:
        current = existing.get(values["code"])
        if current is None:
            current = DispositionCode(campaign_id=campaign.id, code=values["code"])
            session.add(current)
        before_dict = baseline.get(values["code"])
        for key in ("label", "retry_after_min", *_DISPOSITION_FLAGS):
            setattr(current, key, values[key])
        if before_dict != values:
            changes[values["code"]] = "added" if before_dict is None else {
                key: {"from": before_dict.get(key), "to": values[key]}
                for key in values if before_dict.get(key) != values[key]
            }  # fmt: skip
    return changes


def _custom_fields(campaign: Campaign) -> list[str]:
    """Custom field names seen on a sample of the campaign's contacts, for the script's merge-field help."""
    names: dict[str, None] = {}
    sample = get_session().scalars(select(Contact.custom_fields).where(Contact.campaign_id == campaign.id).limit(50))
    for fields in sample:
        for key in fields or {}:
            names.setdefault(str(key), None)
    return list(names)[:30]


# --------------------------------------------------------------------------- list upload


@bp.get("/campaigns/<int:campaign_id>/lists/new")
def new_list(campaign_id: int) -> ResponseReturnValue:
    campaign = _campaign_or_404(get_session(), campaign_id)
    return render_template("manager/upload.html", campaign=campaign, problem=None, lists=_lists(campaign))


@bp.post("/campaigns/<int:campaign_id>/lists/new")
def upload_list(campaign_id: int) -> ResponseReturnValue:
    """Keep the file server-side and show its columns with the importer's guesses."""
    campaign = _campaign_or_404(get_session(), campaign_id)
    upload = request.files.get("file")
    if upload is None or not upload.filename:
        return render_template("manager/upload.html", campaign=campaign, lists=_lists(campaign),
                               problem="choose a CSV file to upload"), 400  # fmt: skip
    folder = _upload_folder()
    _sweep(folder)
    token = secrets.token_hex(16)
    path = folder / f"{token}.csv"
    upload.save(path)
    original = Path(upload.filename).name[:200]
    (folder / f"{token}.json").write_text(json.dumps({"campaign_id": campaign.id, "filename": original}))
    try:
        preview = _preview(path)
    except ListImportError as error:
        _remove(folder, token)
        return render_template("manager/upload.html", campaign=campaign, lists=_lists(campaign),
                               problem=str(error)), 400  # fmt: skip
    return _mapping_page(campaign, token, original, preview, [c.guess for c in preview.columns], None,
                         Path(original).stem, campaign.default_region)  # fmt: skip


@bp.post("/campaigns/<int:campaign_id>/lists/import")
def start_import(campaign_id: int) -> ResponseReturnValue:
    """Queue the import of an uploaded file with the mapping chosen on the preview."""
    campaign = _campaign_or_404(get_session(), campaign_id)
    token = request.form.get("token", "")
    folder = _upload_folder()
    meta = _upload_meta(folder, token)
    if meta is None or meta.get("campaign_id") != campaign.id:
        return error_response(404, "that upload is gone or belongs to another campaign: upload the file again",
                              "token")  # fmt: skip
    path = folder / f"{token}.csv"
    preview = _preview(path)
    chosen = [request.form.get(f"map-{i}", column.guess) for i, column in enumerate(preview.columns)]
    list_name = (request.form.get("list_name") or "").strip() or Path(meta["filename"]).stem
    region = (request.form.get("region") or campaign.default_region).strip().upper()
    problem = _mapping_problem(preview, chosen) or (
        None if len(region) == 2 and region.isalpha() else "region must be a two-letter code such as US"
    )
    if problem:
        return _mapping_page(campaign, token, meta["filename"], preview, chosen, problem, list_name, region), 400
    mapping = {column.name: target for column, target in zip(preview.columns, chosen, strict=True)}
    rejects = _rejects_path(folder, path, mapping, region)
    try:
        job_id = jobs.enqueue_import(resources().redis, campaign.id, path, mapping=mapping, region=region,
                                     list_name=list_name[:200], rejects=rejects)  # fmt: skip
    except ListImportError as error:
        return _mapping_page(campaign, token, meta["filename"], preview, chosen, str(error), list_name, region), 400
    except redis.RedisError as error:
        return error_response(503, f"the job queue cannot be reached ({error}); try again in a moment")
    if _runs_inline():
        _work_inline()
    return redirect(url_for("manager.import_progress", campaign_id=campaign.id, job_id=job_id))


@bp.get("/campaigns/<int:campaign_id>/lists/job/<job_id>")
def import_progress(campaign_id: int, job_id: str) -> ResponseReturnValue:
    campaign = _campaign_or_404(get_session(), campaign_id)
    job = _import_job(campaign.id, job_id)
    return render_template("manager/job.html", campaign=campaign, job=job, job_id=job_id,
                           view=_job_view(campaign.id, job))  # fmt: skip


@bp.get("/campaigns/<int:campaign_id>/lists/job/<job_id>.json")
def import_progress_json(campaign_id: int, job_id: str) -> ResponseReturnValue:
    campaign = _campaign_or_404(get_session(), campaign_id)
    job = _import_job(campaign.id, job_id)
    return jsonify(_job_view(campaign.id, job))


@bp.get("/campaigns/<int:campaign_id>/lists/<int:list_id>/rejects.csv")
def rejects_csv(campaign_id: int, list_id: int) -> ResponseReturnValue:
    session = get_session()
    contact_list = session.get(ContactList, list_id)
    if contact_list is None or contact_list.campaign_id != campaign_id:
        return error_response(404, f"campaign {campaign_id} has no list {list_id}")
    if not contact_list.import_key:
        return error_response(404, "this list was not imported from the manager, so no reject report was kept")
    path = _upload_folder() / "rejects" / f"{contact_list.import_key}.csv"
    if not path.is_file():
        return error_response(404, "the reject report of this list is not kept any more (or the import has not run)")
    safe_name = re.sub(r"[^A-Za-z0-9._-]+", "-", contact_list.name).strip("-") or f"list-{list_id}"
    return send_file(path, mimetype="text/csv", as_attachment=True, download_name=f"{safe_name}-rejects.csv",
                     max_age=0)  # fmt: skip


@dataclass(frozen=True)
class _Column:
    name: str
    guess: str
    samples: tuple[str, ...]


@dataclass(frozen=True)
class _Preview:
    columns: tuple[_Column, ...]
    rows: tuple[tuple[str, ...], ...]
    delimiter: str


def _preview(path: Path) -> _Preview:
    """The header and first rows, read the way the importer reads them (UTF-8, BOM or not, delimiter sniffed)."""
    with open(path, "rb") as source:
        head = source.read(PREVIEW_BYTES)
    if not head.strip():
        raise ListImportError("the file is empty: it needs a header row and at least one contact")
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise ListImportError("the file is UTF-16 (Excel's 'Unicode text'): save it as 'CSV UTF-8' and upload again")
    if b"\x00" in head[:4096]:
        raise ListImportError("the file holds binary data, not CSV text: save it as CSV and upload again")
    text = head.decode("utf-8-sig", errors="replace")
    lines = text.splitlines()
    if len(head) == PREVIEW_BYTES and len(lines) > 1:
        text = "\n".join(lines[:-1])  # the last line may be cut in the middle
    first = lines[0] if lines else ""
    delimiter = max(",;\t|", key=first.count) if any(d in first for d in ",;\t|") else ","
    reader = csv.reader(io.StringIO(text), delimiter=delimiter)
    try:
        header = next(reader)
    except StopIteration:
        raise ListImportError("the file is empty: it needs a header row and at least one contact") from None
    except csv.Error as error:
        raise ListImportError(f"the header row is not CSV: {error}") from None
    rows: list[tuple[str, ...]] = []
    with contextlib.suppress(csv.Error):
        for row in reader:
            if not any(cell.strip() for cell in row):
                continue
            rows.append(tuple(row))
            if len(rows) == PREVIEW_ROWS:
                break
    names = [name.strip() or f"column_{i + 1}" for i, name in enumerate(header)]
    guesses = _guesses(names)
    columns = tuple(
        _Column(name, guess, tuple(row[i] if i < len(row) else "" for row in rows))
        for i, (name, guess) in enumerate(zip(names, guesses, strict=True))
    )
    return _Preview(columns, tuple(rows), delimiter)


def _guesses(names: list[str]) -> list[str]:
    """The importer's own guess for each header; a second column for one field stays a custom field, as there."""
    taken: set[str] = set()
    guesses = []
    for name in names:
        guess = auto_field(name) or "custom"
        if guess in _SINGLE_FIELDS:
            if guess in taken:
                guess = "custom"
            taken.add(guess)
        guesses.append(guess)
    return guesses


def _mapping_problem(preview: _Preview, chosen: list[str]) -> str | None:
    allowed = set(FIELDS)
    for column, target in zip(preview.columns, chosen, strict=True):
        if target not in allowed:
            return f"column {column.name!r}: {target!r} is not a field"
    if "phone" not in chosen:
        return "map at least one column to Phone: the dialer needs a number to call"
    for field_name in _SINGLE_FIELDS:
        users = [c.name for c, target in zip(preview.columns, chosen, strict=True) if target == field_name]
        if len(users) > 1:
            return f"columns {users[0]!r} and {users[1]!r} are both mapped to {field_name}: keep one"
    names = [c.name for c in preview.columns]
    for name in set(names):
        same = {target for c, target in zip(preview.columns, chosen, strict=True) if c.name == name}
        if names.count(name) > 1 and len(same) > 1:
            return f"two columns are named {name!r}: rename one in the file to map them differently"
    return None


def _mapping_page(campaign: Campaign, token: str, filename: str, preview: _Preview, chosen: list[str],
                  problem: str | None, list_name: str, region: str) -> str:  # fmt: skip
    return render_template(
        "manager/mapping.html", campaign=campaign, token=token, filename=filename, preview=preview,
        chosen=chosen, choices=MAPPING_CHOICES, problem=problem, list_name=list_name, region=region,
        delimiter={",": "comma", ";": "semicolon", "\t": "tab", "|": "pipe"}.get(preview.delimiter, "comma"),
    )  # fmt: skip


def _upload_folder() -> Path:
    """Where uploads wait for the worker: configured, or under the instance folder, never under static."""
    configured = current_app.config.get("LIST_UPLOAD_FOLDER")
    folder = Path(configured) if configured else Path(current_app.instance_path) / "list-uploads"
    (folder / "rejects").mkdir(parents=True, exist_ok=True)
    return folder


def _upload_meta(folder: Path, token: str) -> dict[str, Any] | None:
    if not _TOKEN.fullmatch(token):
        return None
    try:
        meta: dict[str, Any] = json.loads((folder / f"{token}.json").read_text())
    except (OSError, ValueError):
        return None
    return meta if (folder / f"{token}.csv").is_file() else None


def _rejects_path(folder: Path, path: Path, mapping: dict[str, str], region: str) -> Path:
    """Named by the import's key, which its list keeps, so the list finds its report without a table of its own."""
    key = jobs.import_key(path, jobs._import_options(mapping, region, None, None))
    return folder / "rejects" / f"{key}.csv"


def _sweep(folder: Path) -> None:
    """Forget uploads and reports older than two weeks: the contacts are in the database by then."""
    cutoff = time.time() - UPLOAD_KEEP_S
    for path in [*folder.glob("*.csv"), *folder.glob("*.json"), *(folder / "rejects").glob("*.csv")]:
        with contextlib.suppress(OSError):
            if path.stat().st_mtime < cutoff:
                path.unlink()


def _remove(folder: Path, token: str) -> None:
    for suffix in (".csv", ".json"):
        with contextlib.suppress(OSError):
            os.unlink(folder / f"{token}{suffix}")


def _runs_inline() -> bool:
    """With the in-process Redis stand-in no worker process can see the queue: the request works it."""
    return str(current_app.config.get("REDIS_URL", "")).startswith("memory://")


def _work_inline() -> None:
    """Work the queue in this process: at once under test, else on a thread so the page shows the progress."""
    from rq import Queue, SimpleWorker
    from rq.timeouts import TimerDeathPenalty

    class InlineWorker(SimpleWorker):
        # Signals belong to the main thread and to the web server: time jobs out with a timer instead.
        death_penalty_class = TimerDeathPenalty

        def _install_signal_handlers(self) -> None:
            pass

    connection = resources().redis
    worker = InlineWorker([Queue(name, connection=connection) for name in jobs.QUEUES], connection=connection)
    if current_app.testing:
        worker.work(burst=True, with_scheduler=False)
    else:
        threading.Thread(target=worker.work, kwargs={"burst": True, "with_scheduler": False}, daemon=True).start()


def _import_job(campaign_id: int, job_id: str) -> dict[str, Any]:
    if not job_id.startswith(f"import-{campaign_id}-"):
        abort(404)
    try:
        job = jobs.get_job(resources().redis, job_id)
    except redis.RedisError:
        abort(503)
    if job is None:
        abort(404)
    return job


def _job_view(campaign_id: int, job: dict[str, Any]) -> dict[str, Any]:
    """The job as the progress bar needs it: a percentage, the counts so far, and when done the links."""
    progress = job.get("progress") or {}
    result = job.get("result") or {}
    total = int(progress.get("total") or 0)
    done = int(progress.get("done") or 0)
    state = job.get("state") or "queued"
    finished = state == "finished" or (progress.get("phase") == "done" and bool(result))
    view: dict[str, Any] = {
        "state": "finished" if finished else state,
        "phase": progress.get("phase") or ("waiting for a worker" if state == "queued" else state),
        "percent": 100.0 if finished else round(100.0 * done / total, 1) if total else 0.0,
        "rows_read": result.get("rows_read", progress.get("rows_read", 0)),
        "landed": result.get("imported", progress.get("landed", 0)),
        "rejected": result.get("rejected", progress.get("rejected", 0)),
        "error": job.get("error"),
        "retries": job.get("retries", 0),
    }
    if finished and result.get("list_id"):
        view.update(
            list_id=result["list_id"],
            duplicates=result.get("duplicates", 0),
            blank_rows=result.get("blank_rows", 0),
            rejected_by_reason=result.get("rejected_by_reason", {}),
            on_dnc_by_list=result.get("on_dnc_by_list", {}),
            notes=result.get("notes", []),
            errors=result.get("errors", [])[:10],
            rejects_url=url_for("manager.rejects_csv", campaign_id=campaign_id, list_id=result["list_id"])
            if result.get("rejects_file") else None,
            health_url=url_for("manager.health", campaign_id=campaign_id),
        )  # fmt: skip
    return view


def _lists(campaign: Campaign) -> list[ContactList]:
    return list(get_session().scalars(
        select(ContactList).where(ContactList.campaign_id == campaign.id).order_by(ContactList.id.desc())))


# --------------------------------------------------------------------------- list health


@bp.get("/campaigns/<int:campaign_id>/health")
def health(campaign_id: int) -> ResponseReturnValue:
    session = get_session()
    campaign = _campaign_or_404(session, campaign_id)
    report = list_health(session, campaign, datetime.now(UTC))
    if request.accept_mimetypes.best == "application/json":
        return jsonify(report.to_dict())
    return render_template("manager/health.html", campaign=campaign, report=report, chart=_health_chart(report),
                           reasons=reasons_in_order(report.total), buckets=LATER_BUCKETS,
                           zone=_zone_or_utc(campaign.schedule_tz), reasons_of=reasons_in_order)  # fmt: skip


_CHART_PARTS = (("dialable_now", "Dialable now", "#13804a"), ("dialable_later", "Later", "#2a6fb0"),
                ("finished", "Finished", "#8996a5"), ("not_dialable", "Not dialable", "#c3262f"))  # fmt: skip


def _health_chart(report: ListHealthReport) -> list[dict[str, Any]]:
    """One stacked bar per list: the shares of each group, as the SVG's rectangles (x and width in %)."""
    bars = []
    for counts in report.lists:
        x = 0.0
        parts = []
        for attr, label, colour in _CHART_PARTS:
            value = getattr(counts, attr)
            width = 100.0 * counts.share(value)
            if value:
                parts.append({"x": round(x, 3), "width": round(width, 3), "colour": colour, "label": label,
                              "count": value})  # fmt: skip
            x += width
        bars.append({"name": counts.name, "total": counts.total, "parts": parts})
    return bars


# --------------------------------------------------------------------------- helpers


def _campaign_or_404(session: Session, campaign_id: int) -> Campaign:
    campaign = session.get(Campaign, campaign_id)
    if campaign is None:
        abort(404)
    return campaign


def _count_by_campaign(session: Session, query: Any) -> dict[int, int]:
    return {int(campaign_id): int(count) for campaign_id, count in session.execute(query)}


def _schedule_summary(campaign: Campaign, now: datetime) -> dict[str, Any] | None:
    try:
        windows = windows_of(campaign.schedule)
        zone = parse_zone(campaign.schedule_tz)
    except ScheduleError:
        return None
    if not windows:
        return None
    state = schedule_state(windows, zone, now)
    return {"text": describe(windows), "running": state.running, "zone": zone.key,
            "next_change": state.next_change.astimezone(zone) if state.next_change else None}  # fmt: skip


def _live(campaign_id: int) -> dict[str, str] | None:
    """The dialer's last published state of the campaign, when a dialer holds it and Redis answers."""
    try:
        raw = resources().redis.hgetall(f"dialer:live:{campaign_id}")
    except redis.RedisError:
        return None
    if not raw:
        return None
    return {_text(key): _text(value) for key, value in raw.items()}


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


def _zone_or_utc(name: str) -> Any:
    try:
        return parse_zone(name)
    except ScheduleError:
        return parse_zone("UTC")
