"""Creating a campaign and changing its settings over the API, every rule left to ``campaigns.services``.

The script, the extra caller IDs and the dialing schedule are checked by
``services.validate_settings`` like every other setting but are not among the
settings ``create_campaign`` takes, so they are laid onto the new campaign
after it.  A change of settings is validated as a whole (the campaign's
present values with the new ones laid over), so a change can never leave a
campaign in a state creation would refuse; pacing changes go through
``update_pacing`` so they land in the campaign's audit chain with who made them.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from campaigns import services
from campaigns.models import Campaign
from campaigns.services import CampaignError

EXTRA_SETTINGS = tuple(name for name in ("script", "caller_ids", "schedule", "schedule_tz")
                       if name not in services.SETTINGS)
EDITABLE = (*services.SETTINGS, *EXTRA_SETTINGS)


def current_settings(campaign: Campaign) -> dict[str, Any]:
    return {name: getattr(campaign, name) for name in services.SETTINGS}


def create(session: Session, given: dict[str, Any]) -> Campaign:
    """A draft campaign from the settings given (those ``create_campaign`` takes and the extra ones).

    Nothing is committed here: the caller commits once the whole request succeeded.
    """
    values = services.validate_settings(given)
    campaign = services.create_campaign(session, **{k: v for k, v in given.items() if k in services.SETTINGS})
    for key in EXTRA_SETTINGS:
        if key in values:
            setattr(campaign, key, values[key])
    session.flush()
    return campaign


def update(session: Session, campaign: Campaign, given: dict[str, Any], *, actor: str) -> dict[str, Any]:
    """Apply a change of settings; returns ``{setting: {"from": before, "to": after}}`` of what changed."""
    merged = {**current_settings(campaign), **given}
    # Dial mode and pacer follow each other: the one given leads, the other is derived again.
    if "dial_mode" in given and "pacer" not in given:
        merged.pop("pacer")
    if "pacer" in given and "dial_mode" not in given:
        merged.pop("dial_mode")
    for optional in ("voicemail_message", "recording_announcement", "description"):
        if merged.get(optional) is None:
            merged.pop(optional, None)
    values = services.validate_settings(merged)
    if values["name"] != campaign.name and session.scalar(
        select(Campaign.id).where(Campaign.name == values["name"], Campaign.id != campaign.id)
    ) is not None:
        raise CampaignError("name", f"a campaign named {values['name']!r} exists already")
    pacing = {key: values[key] for key in services.PACING_SETTINGS if values[key] != getattr(campaign, key)}
    changes: dict[str, Any] = {}
    for key, after in values.items():
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
