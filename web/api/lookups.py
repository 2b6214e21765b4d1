"""Finding what a path names: a campaign by id or name, a row by id, with a 404 that names the field."""

from __future__ import annotations

from typing import Any, TypeVar

from sqlalchemy import select
from sqlalchemy.orm import Session

from campaigns.models import Campaign
from campaigns.services import CampaignNotFound
from web.api.errors import NotFound
from web.api.inputs import MAX_ID

T = TypeVar("T")


def campaign_by_ref(session: Session, ref: str | int) -> Campaign:
    """The campaign with this id or name; ids are plain ASCII digits (names never are)."""
    text = str(ref).strip()
    campaign: Campaign | None = None
    if text.isascii() and text.isdigit():
        if len(text) <= 10 and int(text) <= MAX_ID:
            campaign = session.get(Campaign, int(text))
    elif 0 < len(text) <= 200 and "\x00" not in text:
        campaign = session.scalar(select(Campaign).where(Campaign.name == text))
    if campaign is None:
        raise CampaignNotFound(text[:80])
    return campaign


def row_by_id(session: Session, model: type[T], row_id: int, field: str, what: str) -> T:
    found: Any = session.get(model, row_id) if 0 < row_id <= MAX_ID else None
    if found is None:
        raise NotFound(field, f"no {what} has the id {row_id}")
    result: T = found
    return result
