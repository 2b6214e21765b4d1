"""``/api/campaigns``: campaigns and their progress as JSON, through the same services as the CLI."""

from __future__ import annotations

from flask import Blueprint, jsonify, request
from flask.typing import ResponseReturnValue

from campaigns import services
from web import get_session
from web.auth import OFFICE, blueprint_roles

bp = Blueprint("campaigns_api", __name__, url_prefix="/api/campaigns")
blueprint_roles(bp, *OFFICE)


@bp.errorhandler(services.CampaignNotFound)
def _not_found(error: services.CampaignNotFound) -> ResponseReturnValue:
    return jsonify({"error": str(error), "field": error.field}), 404


@bp.errorhandler(services.CampaignError)
def _refused(error: services.CampaignError) -> ResponseReturnValue:
    return jsonify({"error": str(error), "field": error.field}), 400


@bp.get("")
def list_campaigns() -> ResponseReturnValue:
    """All campaigns, oldest first; ``?status=active`` keeps one status."""
    found = services.list_campaigns(get_session(), request.args.get("status"))
    return jsonify({"campaigns": [services.campaign_to_dict(campaign) for campaign in found]})


@bp.get("/<campaign_ref>")
def show_campaign(campaign_ref: str) -> ResponseReturnValue:
    """One campaign (by id or name) with its summary counts."""
    session = get_session()
    campaign = services.get_campaign(session, campaign_ref)
    summary = services.campaign_summary(session, campaign)
    return jsonify({**services.campaign_to_dict(campaign), "summary": summary})
