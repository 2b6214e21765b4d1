"""How the API refuses a request: always JSON ``{"error": ..., "field": ...}`` with a 4xx status.

Programs reading the API need to know what to fix, so every refusal names the
field at fault (``None`` when no single field is).  Domain errors raised by the
services keep their own field names; HTTP errors Flask raises itself (an
unknown path, a wrong method) get the same shape under ``/api/``.
"""

from __future__ import annotations

from flask import Blueprint, Flask, jsonify, request
from flask.typing import ResponseReturnValue
from werkzeug.exceptions import HTTPException

from campaigns.dnc_store import DncError
from campaigns.services import CampaignError, CampaignNotFound


class ApiError(Exception):
    """A request the API refuses; ``status`` is the HTTP status, ``field`` what to fix."""

    def __init__(self, field: str | None, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.field = field
        self.message = message
        self.status = status


class NotFound(ApiError):
    def __init__(self, field: str, message: str) -> None:
        super().__init__(field, message, 404)


class Conflict(ApiError):
    def __init__(self, field: str | None, message: str) -> None:
        super().__init__(field, message, 409)


def refusal(status: int, message: str, field: str | None = None) -> ResponseReturnValue:
    return jsonify({"error": message, "field": field}), status


def install(bp: Blueprint) -> None:
    """Answer the domain errors raised by the views of ``bp`` as JSON refusals."""

    @bp.errorhandler(ApiError)
    def _api_error(error: ApiError) -> ResponseReturnValue:
        return refusal(error.status, error.message, error.field)

    @bp.errorhandler(CampaignNotFound)
    def _campaign_not_found(error: CampaignNotFound) -> ResponseReturnValue:
        return refusal(404, error.message, error.field)

    @bp.errorhandler(CampaignError)
    def _campaign_error(error: CampaignError) -> ResponseReturnValue:
        return refusal(400, error.message, error.field)

    @bp.errorhandler(DncError)
    def _dnc_error(error: DncError) -> ResponseReturnValue:
        return refusal(400, str(error), getattr(error, "field", None) or "phone")


def install_http_errors(app: Flask) -> None:
    """Unknown API paths and wrong methods answer JSON too; other paths keep Flask's pages."""

    def _http_error(error: HTTPException) -> ResponseReturnValue:
        if not request.path.startswith("/api/"):
            return error.get_response()
        message = error.description or error.name
        field = "path" if error.code == 404 else "method" if error.code == 405 else None
        headers = {"Allow": error.get_response().headers["Allow"]} if error.code == 405 else {}
        return jsonify({"error": message, "field": field}), error.code or 500, headers

    app.register_error_handler(HTTPException, _http_error)
