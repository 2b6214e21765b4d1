"""What can be done to a campaign, with every rule checked before the database sees it.

The CLI, the web API and the demo all come through here, so a campaign that
breaks the law (a ring under 15 s, an abandonment target over 3 %) cannot be
created by any door.  Functions add and flush but never commit: the caller owns
the transaction, and decides when a unit of work is done.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import phonenumbers
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from campaigns.audit_store import append_event
from campaigns.models import (
    CallAttempt,
    Campaign,
    CampaignStatus,
    Contact,
    ContactList,
    ContactStatus,
    DialMode,
)
from campaigns.recycling import SettingError, parse_lifecycle_settings
from campaigns.schedule import ScheduleError, parse_schedule, parse_zone

PURPOSES = ("telemarketing", "survey", "debt_collection")
DIAL_MODES = tuple(mode.value for mode in DialMode)
MACHINE_ACTIONS = ("hangup", "voicemail")
ANSWER_CLASSES = ("human", "machine", "fax", "unknown", "no_answer", "busy", "failed")
MIN_RING_TIMEOUT_S = 15  # 47 CFR 64.1200(a)(6): ring at least 15 seconds or four rings
MAX_RING_TIMEOUT_S = 600  # carriers stop ringing by then
MAX_ABANDON_RATE = 0.03  # the safe harbour's 3 % of live answers
MAX_SAFE_HARBOUR_S = 2.0  # a person must hear someone within 2 s of their greeting
DEFAULT_POWER_RATIO = 1.5
OPT_OUT_KEY = "9"

# Every setting a campaign is created with; ``status`` is not one (see start/pause).
SETTINGS = (
    "name",
    "description",
    "purpose",
    "dial_mode",
    "pacer",
    "caller_id",
    "default_region",
    "ring_timeout_s",
    "max_attempts",
    "retry_delays_min",
    "target_abandon",
    "safe_harbour_s",
    "amd_enabled",
    "machine_action",
    "voicemail_message",
    "drop_message",
    "calling_window",
    "requires_consent",
    "prerecorded",
    "max_dial_level",
    "record_calls",
    "recording_announcement",
)

# Settings a campaign also takes, kept out of SETTINGS (its summary and the CLI's options):
# what agents read, more caller IDs, the dialing schedule, and the lead lifecycle.
MORE_SETTINGS = ("script", "caller_ids", "schedule", "schedule_tz", "phone_order", "lead_order", "lead_filter")

_WINDOW = re.compile(r"(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})")
_RATIO = re.compile(r"ratio:(.+)")


class CampaignError(ValueError):
    """A campaign setting or action was refused; ``field`` names what to fix."""

    def __init__(self, field: str, message: str) -> None:
        self.field = field
        self.message = message
        super().__init__(f"{field}: {message}")


class CampaignNotFound(CampaignError):
    """No campaign has the id or name asked for."""

    def __init__(self, ref: int | str) -> None:
        super().__init__("campaign", f"no campaign has the id or name {str(ref).strip()!r}")
        self.args = (self.message,)  # "no campaign has...", not "campaign: no campaign has..."


def campaign_defaults() -> dict[str, Any]:
    """The value each setting takes when not given, read from the model's column defaults.

    The model is the one place defaults live; the CLI shows these in its help.
    """
    defaults: dict[str, Any] = {}
    for column in Campaign.__table__.columns:
        if column.name in SETTINGS and column.default is not None:
            arg = getattr(column.default, "arg", None)
            defaults[column.name] = arg(None) if callable(arg) else arg
    defaults["pacer"] = pacer_for_mode(defaults["dial_mode"])
    return defaults


def create_campaign(session: Session, **settings: Any) -> Campaign:
    """Validate ``settings`` and add a draft campaign; a setting given as None takes its default.

    Raises CampaignError naming the first setting that is wrong.  ``name`` and
    ``caller_id`` are required; the drop message is written from them when
    not given.
    """
    unknown = sorted(set(settings) - set(SETTINGS) - set(MORE_SETTINGS))
    if unknown:
        raise CampaignError(unknown[0], f"is not a campaign setting (known: {', '.join(SETTINGS)})")
    given = {key: value for key, value in settings.items() if value is not None}
    values = {**campaign_defaults(), **validate_settings(given)}

    name = values["name"]
    if session.scalar(select(Campaign.id).where(Campaign.name == name)) is not None:
        raise CampaignError("name", f"a campaign named {name!r} exists already")
    if "drop_message" not in given:
        values["drop_message"] = default_drop_message(
            name, values["caller_id"], values["default_region"], values["purpose"]
        )
    campaign = Campaign(**values, status=CampaignStatus.DRAFT.value)
    session.add(campaign)
    try:
        session.flush()
    except IntegrityError as error:  # another process took the name between our check and now
        raise CampaignError("name", f"a campaign named {name!r} exists already") from error
    return campaign


def validate_settings(settings: Mapping[str, Any]) -> dict[str, Any]:
    """Check and normalize the given settings; settings not given are left out.

    ``name`` and ``caller_id`` must be present.  Raises CampaignError.
    """
    out: dict[str, Any] = {}
    for required in ("name", "caller_id"):
        if required not in settings:
            raise CampaignError(required, "is required")
    out["name"] = _name(settings["name"])
    if "description" in settings:
        out["description"] = _text("description", settings["description"])
    if "purpose" in settings:
        out["purpose"] = _choice("purpose", settings["purpose"], PURPOSES)
    region = _region(settings.get("default_region", "US"))
    out["default_region"] = region
    out["caller_id"] = normalize_phone("caller_id", settings["caller_id"], region)
    if "ring_timeout_s" in settings:
        out["ring_timeout_s"] = _int(
            "ring_timeout_s", settings["ring_timeout_s"], MIN_RING_TIMEOUT_S, MAX_RING_TIMEOUT_S
        )
    if "max_attempts" in settings:
        out["max_attempts"] = _int("max_attempts", settings["max_attempts"], 1, None)
    if "retry_delays_min" in settings:
        out["retry_delays_min"] = _retry_delays(settings["retry_delays_min"])
    if "target_abandon" in settings:
        out["target_abandon"] = _fraction("target_abandon", settings["target_abandon"], MAX_ABANDON_RATE)
    if "safe_harbour_s" in settings:
        out["safe_harbour_s"] = _fraction("safe_harbour_s", settings["safe_harbour_s"], MAX_SAFE_HARBOUR_S)
    out.update(_mode_and_pacer(settings.get("dial_mode"), settings.get("pacer")))
    amd = settings.get("amd_enabled", True)
    if not isinstance(amd, bool):
        raise CampaignError("amd_enabled", f"must be true or false, not {amd!r}")
    out["amd_enabled"] = amd
    if "machine_action" in settings:
        out["machine_action"] = _choice("machine_action", settings["machine_action"], MACHINE_ACTIONS)
    if "voicemail_message" in settings:
        out["voicemail_message"] = _text("voicemail_message", settings["voicemail_message"])
    if out.get("machine_action") == "voicemail":
        if not amd:
            raise CampaignError("machine_action", "'voicemail' needs answering-machine detection on")
        if not out.get("voicemail_message"):
            raise CampaignError("voicemail_message", "is required when machine_action is 'voicemail'")
    if "drop_message" in settings:
        out["drop_message"] = _text("drop_message", settings["drop_message"])
        if not out["drop_message"]:
            raise CampaignError("drop_message", "must not be empty: an abandoned call must hear it")
    if "calling_window" in settings:
        out["calling_window"] = parse_calling_window(settings["calling_window"])
    if "max_dial_level" in settings:
        level = settings["max_dial_level"]
        if isinstance(level, bool) or not isinstance(level, int | float) or not 1.0 <= float(level) <= 10.0:
            raise CampaignError("max_dial_level", f"must be a number from 1.0 (progressive) to 10.0, not {level!r}")
        out["max_dial_level"] = float(level)
    if "recording_announcement" in settings:
        out["recording_announcement"] = _text("recording_announcement", settings["recording_announcement"])
    if "record_calls" in settings:
        if not isinstance(settings["record_calls"], bool):
            raise CampaignError("record_calls", f"must be true or false, not {settings['record_calls']!r}")
        out["record_calls"] = settings["record_calls"]
        if out["record_calls"] and not out.get("recording_announcement"):
            # Several US states (and most countries) need every party told before recording.
            raise CampaignError("recording_announcement", "is required when calls are recorded")
    if "script" in settings:
        out["script"] = _text("script", settings["script"])
    if "caller_ids" in settings:
        out["caller_ids"] = _caller_ids(settings["caller_ids"], region)
    if "schedule_tz" in settings:
        out["schedule_tz"] = _schedule(lambda: parse_zone(settings["schedule_tz"]).key)
    if "schedule" in settings:
        out["schedule"] = _schedule(lambda: parse_schedule(settings["schedule"]))
    try:
        out.update(parse_lifecycle_settings(settings))  # phone_order, lead_order, lead_filter
    except SettingError as error:
        raise CampaignError(error.field, error.message) from error
    for flag in ("requires_consent", "prerecorded"):
        if flag in settings:
            if not isinstance(settings[flag], bool):
                raise CampaignError(flag, f"must be true or false, not {settings[flag]!r}")
            out[flag] = settings[flag]
    return out


def default_drop_message(
    name: str, caller_id: str, region: str = "US", purpose: str = "telemarketing"
) -> str:
    """The message an abandoned call hears: seller, purpose, a number to call back, an opt-out key.

    16 CFR 310.4(b)(4)(iii) and 47 CFR 64.1200(a)(7) ask for all four.
    """
    kinds = {"survey": "a survey call", "debt_collection": "a business call"}
    kind = kinds.get(purpose, "a telemarketing call")
    return (
        f"Hello, this call was from {name}. It was {kind}, and no one was free to take it. "
        f"To call us back, dial {spoken_number(caller_id, region)}. "
        f"To be added to our do-not-call list, press {OPT_OUT_KEY} now."
    )


def normalize_phone(field: str, value: Any, region: str = "US") -> str:
    """``value`` as an E.164 number, or a CampaignError naming ``field``."""
    if not isinstance(value, str) or not value.strip():
        raise CampaignError(field, "must be a phone number, e.g. +12015550123")
    try:
        number = phonenumbers.parse(value, region)
    except phonenumbers.NumberParseException as error:
        raise CampaignError(field, f"{value!r} is not a phone number") from error
    if not phonenumbers.is_valid_number(number):
        raise CampaignError(field, f"{value!r} is not a valid phone number in region {region}")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def spoken_number(e164: str, region: str = "US") -> str:
    """A number as people of ``region`` write it: national format at home, international abroad."""
    number = phonenumbers.parse(e164, region)
    home = phonenumbers.region_code_for_number(number) == region
    style = phonenumbers.PhoneNumberFormat.NATIONAL if home else phonenumbers.PhoneNumberFormat.INTERNATIONAL
    return phonenumbers.format_number(number, style)


def pacer_for_mode(dial_mode: str) -> str:
    """The pacer a dial mode uses when none is named."""
    if dial_mode == DialMode.POWER.value:
        return f"ratio:{DEFAULT_POWER_RATIO:g}"
    return dial_mode


def parse_pacer(value: Any) -> tuple[str, float | None]:
    """A pacer name split into its kind and ratio: ``ratio:1.8`` -> ("ratio", 1.8)."""
    if not isinstance(value, str):
        raise CampaignError("pacer", f"must be a name such as 'progressive' or 'ratio:1.8', not {value!r}")
    name = value.strip().lower()
    if name in ("preview", "progressive", "predictive"):
        return name, None
    match = _RATIO.fullmatch(name)
    if match is None:
        # Any other pacer the registry knows (baselines, third-party pacers) is a predictive-mode pacer.
        from dialer.pacing import PacerError, make_pacer, pacer_names

        try:
            make_pacer(value.strip())
        except (PacerError, ValueError) as error:
            raise CampaignError(
                "pacer", f"{value!r} is not a known pacer ({error}); known: {', '.join(pacer_names())}"
            ) from error
        return value.strip(), None
    try:
        ratio = float(match.group(1))
    except ValueError as error:
        raise CampaignError("pacer", f"the ratio in {value!r} is not a number") from error
    if not math.isfinite(ratio) or ratio < 1.0:
        raise CampaignError("pacer", f"the ratio in {value!r} must be a number >= 1.0")
    return "ratio", ratio


def parse_calling_window(value: Any) -> str:
    """``HH:MM-HH:MM`` normalized, start before end (no window spans midnight)."""
    match = _WINDOW.fullmatch(value.strip()) if isinstance(value, str) else None
    if match is None:
        raise CampaignError("calling_window", f"must look like 09:00-20:00, not {value!r}")
    h1, m1, h2, m2 = (int(part) for part in match.groups())
    if h1 > 23 or h2 > 23 or m1 > 59 or m2 > 59:
        raise CampaignError("calling_window", f"{value!r} holds a time that does not exist")
    if (h1, m1) >= (h2, m2):
        raise CampaignError("calling_window", f"{value!r} must start before it ends")
    return f"{h1:02d}:{m1:02d}-{h2:02d}:{m2:02d}"


def list_campaigns(session: Session, status: str | None = None) -> list[Campaign]:
    """Campaigns in the order they were created, optionally only those in one status."""
    query = select(Campaign).order_by(Campaign.id)
    if status is not None:
        query = query.where(Campaign.status == _choice("status", status, [s.value for s in CampaignStatus]))
    return list(session.scalars(query))


def get_campaign(session: Session, id_or_name: int | str) -> Campaign:
    """The campaign with this id (a number) or this name; CampaignNotFound otherwise.

    Names made only of digits are refused at creation, so the two never clash.
    """
    campaign: Campaign | None
    if isinstance(id_or_name, int) or id_or_name.strip().isdigit():
        campaign = session.get(Campaign, int(id_or_name))
    else:
        campaign = session.scalar(select(Campaign).where(Campaign.name == id_or_name.strip()))
    if campaign is None:
        raise CampaignNotFound(id_or_name)
    return campaign


def start_campaign(session: Session, campaign: Campaign) -> Campaign:
    """Make a draft or paused campaign active; starting an active one changes nothing.

    Refused when the ring time is under 15 s or the drop message is not lawful
    (see ``drop_message_problem``).
    """
    if campaign.status == CampaignStatus.FINISHED.value:
        raise CampaignError("status", f"campaign {campaign.name!r} is finished and cannot start again")
    if campaign.ring_timeout_s < MIN_RING_TIMEOUT_S:
        raise CampaignError(
            "ring_timeout_s", f"is {campaign.ring_timeout_s} s; a call must ring at least {MIN_RING_TIMEOUT_S} s"
        )
    problem = drop_message_problem(
        campaign.drop_message or "", campaign.name, campaign.purpose, campaign.default_region or "US"
    )
    if problem is not None:
        raise CampaignError("drop_message", f"{problem}; campaign {campaign.name!r} cannot start without it")
    return _set_status(session, campaign, CampaignStatus.ACTIVE)


_OPT_OUT_KEY_PRESS = re.compile(r"\bpress\s+\d", re.IGNORECASE)


def drop_message_problem(message: str, seller: str, purpose: str, region: str = "US") -> str | None:
    """What a drop message lacks, or None when it has all the law asks.

    16 CFR 310.4(b)(4)(iii) and 47 CFR 64.1200(a)(7): the seller's name, that
    the call was for telemarketing purposes (telemarketing campaigns), a
    number to call back, and a key-press opt-out ("press" and a digit).
    """
    text = " ".join(message.split())
    if not seller.strip() or seller.strip().casefold() not in text.casefold():
        return f"does not name the seller ({seller!r})"
    if purpose == "telemarketing" and "telemarketing" not in text.casefold():
        return "does not say the call was for telemarketing purposes"
    if not any(True for _ in phonenumbers.PhoneNumberMatcher(text, region, leniency=phonenumbers.Leniency.POSSIBLE)):
        return "gives no phone number to call back"
    if _OPT_OUT_KEY_PRESS.search(text) is None:
        return "offers no key-press opt-out (e.g. 'press 9')"
    return None


PACING_SETTINGS = ("target_abandon", "max_dial_level", "pacer")


def update_pacing(
    session: Session,
    campaign: Campaign,
    *,
    actor: str,
    target_abandon: float | None = None,
    max_dial_level: float | None = None,
    pacer: str | None = None,
) -> dict[str, tuple[Any, Any]]:
    """Apply a supervisor's pacing controls to a campaign, even while it dials.

    The target can be lowered or raised but never above the legal 3%; a new
    pacer must fit the campaign's dial mode family (it moves the mode with it).
    Each change is written to the campaign's audit chain with who made it, so a
    compliance officer can see why the dial level moved.  Returns the changes as
    ``{setting: (before, after)}``.
    """
    given: dict[str, Any] = {"name": campaign.name, "caller_id": campaign.caller_id,
                             "default_region": campaign.default_region}
    if target_abandon is not None:
        given["target_abandon"] = target_abandon
    if max_dial_level is not None:
        given["max_dial_level"] = max_dial_level
    if pacer is not None:
        given["pacer"] = pacer
    values = validate_settings(given)
    changes: dict[str, tuple[Any, Any]] = {}
    for key in ("target_abandon", "max_dial_level"):
        if key in given and values[key] != getattr(campaign, key):
            changes[key] = (getattr(campaign, key), values[key])
    if pacer is not None and values["pacer"] != campaign.pacer:
        changes["pacer"] = (campaign.pacer, values["pacer"])
        changes["dial_mode"] = (campaign.dial_mode, values["dial_mode"])
    for key, (_before, after) in changes.items():
        setattr(campaign, key, after)
    if changes:
        session.flush()
        append_event(
            session.connection(),
            "campaign.pacing_changed",
            {"actor": actor, "changes": {key: {"from": a, "to": b} for key, (a, b) in changes.items()}},
            campaign_id=campaign.id,
        )
    return changes


def pause_campaign(session: Session, campaign: Campaign) -> Campaign:
    """Stop dialing an active campaign (calls in flight finish); pausing a paused one changes nothing."""
    if campaign.status == CampaignStatus.DRAFT.value:
        raise CampaignError("status", f"campaign {campaign.name!r} has not started, so it cannot pause")
    if campaign.status == CampaignStatus.FINISHED.value:
        raise CampaignError("status", f"campaign {campaign.name!r} is finished, so it cannot pause")
    return _set_status(session, campaign, CampaignStatus.PAUSED)


def finish_campaign(session: Session, campaign: Campaign) -> Campaign:
    """Close a campaign for good: it never dials again."""
    return _set_status(session, campaign, CampaignStatus.FINISHED)


def campaign_summary(session: Session, campaign: Campaign) -> dict[str, Any]:
    """Counts that say how far a campaign got: contacts by status, attempts, answers, connects, drops."""
    contacts = _counts(
        session.execute(
            select(Contact.status, func.count())
            .where(Contact.campaign_id == campaign.id)
            .group_by(Contact.status)
        ),
        [s.value for s in ContactStatus],
    )
    calls = _counts(
        session.execute(
            select(func.coalesce(CallAttempt.answer_class, "pending"), func.count())
            .where(CallAttempt.campaign_id == campaign.id)
            .group_by(CallAttempt.answer_class)
        ),
        [*ANSWER_CLASSES, "pending"],
    )
    row = session.execute(
        select(
            func.count(),
            func.count(CallAttempt.connected_at),
            func.count(CallAttempt.abandoned_at),
        ).where(CallAttempt.campaign_id == campaign.id)
    ).one()
    lists = session.scalar(select(func.count()).where(ContactList.campaign_id == campaign.id)) or 0
    return {
        "lists": lists,
        "contacts": sum(contacts.values()),
        "contacts_by_status": contacts,
        "attempts": row[0],
        "calls_by_answer_class": calls,
        "connected": row[1],
        "abandoned": row[2],
    }


def campaign_to_dict(campaign: Campaign) -> dict[str, Any]:
    """A campaign's settings and status as plain JSON-ready values."""
    data: dict[str, Any] = {"id": campaign.id, "status": campaign.status}
    data.update({name: getattr(campaign, name) for name in SETTINGS})
    data["retry_delays_min"] = list(campaign.retry_delays_min)
    data["created_at"] = campaign.created_at.isoformat() if campaign.created_at else None
    data["updated_at"] = campaign.updated_at.isoformat() if campaign.updated_at else None
    return data


def _set_status(session: Session, campaign: Campaign, status: CampaignStatus) -> Campaign:
    if campaign.status != status.value:
        campaign.status = status.value
        session.flush()
    return campaign


def _counts(rows: Iterable[Any], keys: Iterable[str]) -> dict[str, int]:
    counts = dict.fromkeys(keys, 0)
    for key, count in rows:
        counts[str(key)] = counts.get(str(key), 0) + int(count)
    return counts


def _mode_and_pacer(dial_mode: Any, pacer: Any) -> dict[str, str]:
    """Dial mode and pacer agree: each is derived from the other when only one is given."""
    mode = _choice("dial_mode", dial_mode, DIAL_MODES) if dial_mode is not None else None
    if pacer is None:
        mode = mode or DialMode.PROGRESSIVE.value
        return {"dial_mode": mode, "pacer": pacer_for_mode(mode)}
    kind, ratio = parse_pacer(pacer)
    if kind == "ratio":
        pacer_mode = DialMode.POWER.value
    elif kind in ("preview", "progressive"):
        pacer_mode = kind
    else:
        pacer_mode = DialMode.PREDICTIVE.value
    if mode is not None and mode != pacer_mode:
        raise CampaignError("pacer", f"{pacer!r} does not fit dial mode {mode!r}")
    name = f"ratio:{ratio:g}" if ratio is not None else kind
    return {"dial_mode": pacer_mode, "pacer": name}


def _name(value: Any) -> str:
    name = _text("name", value)
    if not name:
        raise CampaignError("name", "must not be empty")
    if len(name) > 200:
        raise CampaignError("name", "must be at most 200 characters")
    if name.isdigit():
        raise CampaignError("name", "must hold a non-digit, so it is never mistaken for an id")
    return name


def _text(field: str, value: Any) -> str:
    if not isinstance(value, str):
        raise CampaignError(field, f"must be text, not {type(value).__name__}")
    return value.strip()


def _choice(field: str, value: Any, options: Iterable[str]) -> str:
    options = tuple(options)
    text = str(value).strip().lower()
    if text not in options:
        raise CampaignError(field, f"must be one of {', '.join(options)}, not {value!r}")
    return text


def _region(value: Any) -> str:
    region = str(value).strip().upper()
    if region not in phonenumbers.SUPPORTED_REGIONS:
        raise CampaignError("default_region", f"{value!r} is not a two-letter region code such as US or CA")
    return region


def _int(field: str, value: Any, low: int, high: int | None) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise CampaignError(field, f"must be a whole number, not {value!r}")
    if value < low:
        raise CampaignError(field, f"must be at least {low}, not {value}")
    if high is not None and value > high:
        raise CampaignError(field, f"must be at most {high}, not {value}")
    return value


def _fraction(field: str, value: Any, high: float) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise CampaignError(field, f"must be a number, not {value!r}")
    if not 0 < value <= high:
        raise CampaignError(field, f"must be above 0 and at most {high:g}, not {value:g}")
    return float(value)


def _caller_ids(value: Any, region: str) -> list[str]:
    """More caller IDs presented in turn: E.164, each once."""
    if isinstance(value, str | bytes) or not isinstance(value, Iterable):
        raise CampaignError("caller_ids", f"must be a list of phone numbers, not {value!r}")
    numbers: list[str] = []
    for item in value:
        number = normalize_phone("caller_ids", item, region)
        if number not in numbers:
            numbers.append(number)
    return numbers


def _schedule(parse: Callable[[], Any]) -> Any:
    try:
        return parse()
    except ScheduleError as error:
        raise CampaignError(error.field, error.message) from None


def _retry_delays(value: Any) -> list[int]:
    if isinstance(value, str | bytes) or not isinstance(value, Iterable):
        raise CampaignError("retry_delays_min", f"must be a list of minutes, not {value!r}")
    delays = list(value)
    if not delays:
        raise CampaignError("retry_delays_min", "must hold at least one delay")
    for delay in delays:
        if isinstance(delay, bool) or not isinstance(delay, int) or delay <= 0:
            raise CampaignError(
                "retry_delays_min", f"each delay must be a whole number of minutes > 0, not {delay!r}"
            )
    return delays
