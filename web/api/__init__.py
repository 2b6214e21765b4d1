"""The REST API under ``/api/``: one module per resource, and the OpenAPI document that describes them.

``register(app)`` installs every blueprint of the API (skipping any the app
factory registered itself) and makes Flask's own HTTP errors under ``/api/``
answer as JSON like the rest of the API.
"""

from __future__ import annotations

from flask import Blueprint, Flask


def blueprints() -> list[Blueprint]:
    from web.api import calls, campaigns, contacts, dnc, lists, openapi, reports

    return [campaigns.bp, lists.bp, contacts.bp, dnc.bp, calls.bp, reports.bp, openapi.bp]


def register(app: Flask) -> None:
    from web.api.errors import install_http_errors

    for blueprint in blueprints():
        if blueprint.name not in app.blueprints:
            app.register_blueprint(blueprint)
    install_http_errors(app)
