"""Campaign settings the services do not check yet (script, extra caller IDs, schedule) and settings changes.

``services.validate_settings`` knows the settings a campaign is created with;
the script, the caller IDs used in turn and the dialing schedule came later
(migration 0008), so their rules live here until a second door needs them.
A change of settings is validated as a whole (the campaign's present values
with the new ones laid over), so a change can never leave a campaign in a
state creation would refuse; pacing changes go through ``update_pacing`` so
they land in the campaign's audit chain with who made them.
"""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from campaigns import services
from campaigns.models import Campaign
from campaigns.services import CampaignError
from web.api.inputs import timezone_name

EXTRA_SETTINGS = ("script", "caller_ids", "schedule", "schedule_tz")
EDITABLE = (*services.SETTINGS, *EXTRA_SETTINGS)
MAX_SCRIPT = 20_000
MAX_CALLER_IDS = 50
MAX_SCHEDULE_SLOTS = 50
_CLOCK = re.compile(r"([01]\d|2[0-3]):([0-5]\d)")


def validate_extras(settings: dict[str, Any], region: str) -> dict[str, Any]:
    """The extra settings given, checked and normalized; CampaignError names the first wrong one."""
    out: dict[str, Any] = {}
    if "script" in settings:
        script = settings["script"]
        if not isinstance(script, str):
            raise CampaignError("script", "must be text")
        if len(script) > MAX_SCRIPT:
            raise CampaignError("script", f"must be at most {MAX_SCRIPT} characters")
        out["script"] = script.strip()
    if "caller_ids" in settings:
        out["caller_ids"] = _caller_ids(settings["caller_ids"], region)
    if "schedule" in settings:
        out["schedule"] = _schedule(settings["schedule"])
    if "schedule_tz" in settings:
        try:
            out["schedule_tz"] = timezone_name("schedule_tz", settings["schedule_tz"])
        except Exception as error:  # ApiError: say it as the services do
            raise CampaignError("schedule_tz", str(error)) from None
    return out


def _caller_ids(value: Any, region: str) -> list[str]:
    if not isinstance(value, list):
        raise CampaignError("caller_ids", "must be a list of phone numbers")
    if len(value) > MAX_CALLER_IDS:
        raise CampaignError("caller_ids", f"must hold at most {MAX_CALLER_IDS} numbers")
    numbers: list[str] = []
    for item in value:
        number = services.normalize_phone("caller_ids", item, region)
        if number not in numbers:
            numbers.append(number)
    return numbers


def _schedule(value: Any) -> list[dict[str, Any]]:
    if not isinstance(value, list):
        raise CampaignError("schedule", 'must be a list of {"days": [0-6], "start": "HH:MM", "end": "HH:MM"}')
    if len(value) > MAX_SCHEDULE_SLOTS:
        raise CampaignError("schedule", f"must hold at most {MAX_SCHEDULE_SLOTS} slots")
    slots = []
    for number, slot in enumerate(value, start=1):
        where = f"slot {number}"
        if not isinstance(slot, dict) or set(slot) != {"days", "start", "end"}:
            raise CampaignError("schedule", f'{where} must be an object with exactly "days", "start" and "end"')
        days = slot["days"]
        if (
            not isinstance(days, list)
            or not days
            or any(isinstance(day, bool) or not isinstance(day, int) or not 0 <= day <= 6 for day in days)
        ):
            raise CampaignError("schedule", f"{where}: days must be a non-empty list of 0 (Monday) to 6 (Sunday)")
        start, end = slot["start"], slot["end"]
        for name, clock in (("start", start), ("end", end)):
            if not isinstance(clock, str) or not _CLOCK.fullmatch(clock):
                raise CampaignError("schedule", f"{where}: {name} must look like 09:00")
        if start >= end:
            raise CampaignError("schedule", f"{where}: start must come before end")
        slots.append({"days": sorted(set(days)), "start": start, "end": end})
    return slots


def current_settings(campaign: Campaign) -> dict[str, Any]:
    return {name: getattr(campaign, name) for name in services.SETTINGS}


def create(session: Session, given: dict[str, Any]) -> Campaign:
    """A draft campaign from the settings given (the services' and the extra ones).

    Nothing is committed here: when an extra setting is refused, the caller's
    rollback takes the half-made campaign away with it.
    """
    campaign = services.create_campaign(session, **{k: v for k, v in given.items() if k in services.SETTINGS})
    extras = validate_extras({k: v for k, v in given.items() if k in EXTRA_SETTINGS}, campaign.default_region)
    for key, value in extras.items():
        setattr(campaign, key, value)
    session.flush()
    return campaign


def update(session: Session, campaign: Campaign, given: dict[str, Any], *, actor: str) -> dict[str, Any]:
    """Apply a change of settings; returns ``{setting: {"from": before, "to": after}}`` of what changed."""
    merged = {**current_settings(campaign), **{k: v for k, v in given.items() if k in services.SETTINGS}}
    # Dial mode and pacer follow each other: the one given leads, the other is derived again.
    if "dial_mode" in given and "pacer" not in given:
        merged.pop("pacer")
    if "pacer" in given and "dial_mode" not in given:
        merged.pop("dial_mode")
    for optional in ("voicemail_message", "recording_announcement", "description"):
        if merged.get(optional) is None:
            merged.pop(optional, None)
    values = services.validate_settings(merged)
    extras = validate_extras({k: v for k, v in given.items() if k in EXTRA_SETTINGS}, values["default_region"])
    if values["name"] != campaign.name and session.scalar(
        select(Campaign.id).where(Campaign.name == values["name"], Campaign.id != campaign.id)
    ) is not None:
        raise CampaignError("name", f"a campaign named {values['name']!r} exists already")
    pacing = {key: values[key] for key in services.PACING_SETTINGS if values[key] != getattr(campaign, key)}
    changes: dict[str, Any] = {}
    for key, after in {**values, **extras}.items():
        if key in (*services.PACING_SETTINGS, "dial_mode"):
            continue  # the pacer carries the dial mode with it
        before = getattr(campaign, key)
        if before != after:
            changes[key] = {"from": before, "to": after}
            setattr(campaign, key, after)
    if pacing:
        moved = services.update_pacing(session, campaign, actor=actor, **pacing)
        changes.update({key: {"from": before, "to": after} for key, (before, after) in moved.items()})
    session.flush()
    return changes
