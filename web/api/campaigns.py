"""``/api/campaigns``: campaigns, their settings and their progress, through the same services as the CLI."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, jsonify, request, url_for
from flask.typing import ResponseReturnValue
from flask_login import current_user

from campaigns import services
from web import get_session
from web.api import campaign_settings, errors
from web.api.inputs import json_object
from web.api.lookups import campaign_by_ref
from web.api.shapes import plain
from web.auth import OFFICE, STAFF, blueprint_roles, roles

bp = Blueprint("campaigns_api", __name__, url_prefix="/api/campaigns")
blueprint_roles(bp, *OFFICE)
errors.install(bp)


def campaign_json(campaign: Any) -> dict[str, Any]:
    data = services.campaign_to_dict(campaign)
    data.update({name: plain(getattr(campaign, name)) for name in campaign_settings.EXTRA_SETTINGS})
    return data


@bp.get("")
def list_campaigns() -> ResponseReturnValue:
    """All campaigns, oldest first; ``?status=active`` keeps one status."""
    status = request.args.get("status") or None
    found = services.list_campaigns(get_session(), status)
    return jsonify({"campaigns": [campaign_json(campaign) for campaign in found]})


@bp.post("")
@roles(*STAFF)
def create_campaign() -> ResponseReturnValue:
    """A new draft campaign; ``name`` and ``caller_id`` are required, every other setting has a default."""
    given = json_object(required=("name", "caller_id"), optional=[
        key for key in campaign_settings.EDITABLE if key not in ("name", "caller_id")])
    session = get_session()
    campaign = campaign_settings.create(session, given)
    session.commit()
    location = url_for("campaigns_api.show_campaign", campaign_ref=campaign.id)
    return jsonify(campaign_json(campaign)), 201, {"Location": location}


@bp.get("/<campaign_ref>")
def show_campaign(campaign_ref: str) -> ResponseReturnValue:
    """One campaign (by id or name) with its summary counts."""
    session = get_session()
    campaign = campaign_by_ref(session, campaign_ref)
    summary = services.campaign_summary(session, campaign)
    return jsonify({**campaign_json(campaign), "summary": summary})


@bp.patch("/<campaign_ref>")
@roles(*STAFF)
def update_campaign(campaign_ref: str) -> ResponseReturnValue:
    """Change settings; the whole campaign is checked again, pacing changes are audited with who made them."""
    given = json_object(optional=campaign_settings.EDITABLE)
    session = get_session()
    campaign = campaign_by_ref(session, campaign_ref)
    changes = campaign_settings.update(session, campaign, given, actor=current_user.username)
    session.commit()
    return jsonify({"campaign": campaign_json(campaign), "changes": plain(changes)})


@bp.post("/<campaign_ref>/start")
@roles(*STAFF)
def start_campaign(campaign_ref: str) -> ResponseReturnValue:
    """Make a draft or paused campaign active: the dialer picks it up within seconds."""
    session = get_session()
    campaign = services.start_campaign(session, campaign_by_ref(session, campaign_ref))
    session.commit()
    return jsonify(campaign_json(campaign))


@bp.post("/<campaign_ref>/pause")
@roles(*STAFF)
def pause_campaign(campaign_ref: str) -> ResponseReturnValue:
    """Stop dialing an active campaign; calls in flight finish."""
    session = get_session()
    campaign = services.pause_campaign(session, campaign_by_ref(session, campaign_ref))
    session.commit()
    return jsonify(campaign_json(campaign))
