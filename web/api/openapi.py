"""The OpenAPI 3.1 document of ``/api/`` and its reading page, both built from the app's own routes.

Paths, methods and path parameters come from Flask's URL map and the roles
from each route's declaration, so the document cannot describe a route that
does not exist or miss who may call it; what each operation takes and gives
back is written down once here (``OPERATIONS``), keyed by endpoint.  A route
under ``/api/`` with no entry here is left out of the document, and
tests/test_openapi_fuzz.py fails on it.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

from flask import Blueprint, Flask, current_app, jsonify, render_template
from flask.typing import ResponseReturnValue
from markupsafe import Markup, escape

from web.api import schemas
from web.api.inputs import DEFAULT_PAGE, MAX_PAGE
from web.api.schemas import OUTCOME_VALUES, ref
from web.auth import OFFICE, PUBLIC, allowed_roles, blueprint_roles, public

bp = Blueprint("api_docs", __name__, template_folder="templates")
blueprint_roles(bp, *OFFICE)

TITLE = "Open dialer API"
VERSION = "1"
_ARG = re.compile(r"<(?:([^:<>]+):)?([^<>]+)>")

Schema = dict[str, Any]


def query(name: str, schema: Schema, description: str, *, required: bool = False, example: Any = None) -> Schema:
    param: Schema = {"name": name, "in": "query", "required": required, "description": description,
                     "schema": schema}
    if example is not None:
        param["example"] = example
    return param


PAGING = [
    query("limit", {"type": "integer", "minimum": 1, "maximum": MAX_PAGE, "default": DEFAULT_PAGE},
          "how many items to return"),
    query("offset", {"type": "integer", "minimum": 0, "default": 0}, "how many items to skip"),
]
CAMPAIGN_ID_QUERY = query("campaign_id", {"type": "integer", "minimum": 1},
                          "a campaign's own list instead of the company list", example=3)


@dataclass(frozen=True)
class Operation:
    """What one endpoint takes and answers; the path and method come from the app."""

    tag: str
    summary: str
    ok: int = 200
    ok_schema: Schema | None = None
    ok_description: str = "done"
    parameters: list[Schema] = field(default_factory=list)
    body: str | None = None  # a components/schemas name
    body_type: str = "application/json"
    errors: tuple[int, ...] = (400, 401, 403, 404)
    param_descriptions: dict[str, str] = field(default_factory=dict)
    content_type: str = "application/json"
    also: dict[int, str] = field(default_factory=dict)  # more success codes
    path_schemas: dict[str, Schema] = field(default_factory=dict)  # narrower than the route's converter


CAMPAIGN_REF = "the campaign's id, or its name"

OPERATIONS: dict[str, Operation] = {
    "campaigns_api.list_campaigns": Operation(
        "Campaigns", "List campaigns", ok_schema={"type": "object", "properties": {
            "campaigns": {"type": "array", "items": ref("Campaign")}}},
        parameters=[query("status", {"type": "string", "enum": ["draft", "active", "paused", "finished"]},
                          "only campaigns in this status", example="active")]),
    "campaigns_api.create_campaign": Operation(
        "Campaigns", "Create a draft campaign", ok=201, ok_schema=ref("Campaign"), ok_description="created",
        body="CampaignCreate", errors=(400, 401, 403, 404, 415)),
    "campaigns_api.show_campaign": Operation(
        "Campaigns", "A campaign with its summary counts", ok_schema=ref("CampaignWithSummary"),
        param_descriptions={"campaign_ref": CAMPAIGN_REF}),
    "campaigns_api.update_campaign": Operation(
        "Campaigns", "Change a campaign's settings (pacing changes are audited)", ok_schema=ref("CampaignChange"),
        body="CampaignUpdate", errors=(400, 401, 403, 404, 415), param_descriptions={"campaign_ref": CAMPAIGN_REF}),
    "campaigns_api.start_campaign": Operation(
        "Campaigns", "Start (or resume) dialing", ok_schema=ref("Campaign"),
        param_descriptions={"campaign_ref": CAMPAIGN_REF}),
    "campaigns_api.pause_campaign": Operation(
        "Campaigns", "Pause dialing; calls in flight finish", ok_schema=ref("Campaign"),
        param_descriptions={"campaign_ref": CAMPAIGN_REF}),
    "lists_api.campaign_lists": Operation(
        "Lists", "A campaign's contact lists", ok_schema={"type": "object", "properties": {
            "lists": {"type": "array", "items": ref("ContactList")}}},
        param_descriptions={"campaign_ref": CAMPAIGN_REF}),
    "lists_api.upload_list": Operation(
        "Lists", "Upload a CSV list; it is imported in the background", ok=202, ok_schema=ref("ImportQueued"),
        ok_description="queued: follow the job at job_url", body="ListUpload", body_type="multipart/form-data",
        errors=(400, 401, 403, 404, 415, 503), param_descriptions={"campaign_ref": CAMPAIGN_REF}),
    "lists_api.show_list": Operation(
        "Lists", "A list with its counts", ok_schema=ref("ContactListDetail")),
    "lists_api.list_rejects": Operation(
        "Lists", "The rows an import refused, and why", ok_schema=ref("Rejects"), parameters=PAGING),
    "contacts_api.search_contacts": Operation(
        "Contacts", "Search a campaign's contacts", ok_schema=ref("ContactPage"),
        parameters=[
            query("status", {"type": "string", "enum": list(schemas.SCHEMAS["Contact"]["properties"]["status"]
                                                             ["enum"])}, "only contacts in this status"),
            query("list_id", {"type": "integer", "minimum": 1}, "only contacts of this list"),
            query("phone", schemas.PHONE, "the contact with this phone"),
            query("q", {"type": "string", "maxLength": 100}, "a piece of the name, email or external id",
                  example="lovelace"),
            *PAGING],
        param_descriptions={"campaign_ref": CAMPAIGN_REF}),
    "contacts_api.create_contact": Operation(
        "Contacts", "Add one contact", ok=201, ok_schema=ref("Contact"), ok_description="created",
        body="ContactCreate", errors=(400, 401, 403, 404, 409, 415), param_descriptions={"campaign_ref": CAMPAIGN_REF}),
    "contacts_api.show_contact": Operation(
        "Contacts", "A contact with its phones and calls", ok_schema=ref("ContactDetail")),
    "contacts_api.update_contact": Operation(
        "Contacts", "Correct a contact's details", ok_schema=ref("Contact"), body="ContactUpdate",
        errors=(400, 401, 403, 404, 415)),
    "contacts_api.finish_contact": Operation(
        "Contacts", "Never dial a contact again (instead of deleting it)", ok_schema=ref("Contact"),
        body="ContactFinish", errors=(400, 401, 403, 404, 409, 415)),
    "dnc_api.check_number": Operation(
        "Do not call", "Is a number on a do-not-call list?", ok_schema=ref("DncCheck"),
        parameters=[query("phone", schemas.PHONE, "the number to check", required=True, example="+12015550123"),
                    query("campaign_id", {"type": "integer", "minimum": 1}, "check this campaign's list too"),
                    query("region", {"type": "string", "example": "US"}, "for a number without a country code")]),
    "dnc_api.list_entries": Operation(
        "Do not call", "The company list, or a campaign's, newest first", ok_schema=ref("DncEntryPage"),
        parameters=[CAMPAIGN_ID_QUERY, *PAGING]),
    "dnc_api.add_entry": Operation(
        "Do not call", "Add a number (effective at once; logged and audited)", ok=201, ok_schema=ref("DncChange"),
        ok_description="added", body="DncAdd", errors=(400, 401, 403, 404, 415),
        also={200: "listed already: the request is logged, nothing changed"}),
    "dnc_api.remove_entry": Operation(
        "Do not call", "Remove a number, with a reason", ok_schema=ref("DncChange"), body="DncRemove",
        errors=(400, 401, 403, 404, 415)),
    "dnc_api.list_changes": Operation(
        "Do not call", "The change log, oldest first", ok_schema=ref("DncChangePage"),
        parameters=[query("phone", schemas.PHONE, "only this number"),
                    query("campaign_id", {"type": "integer", "minimum": 1}, "only this campaign's list"),
                    query("since", schemas.TIME, "only changes effective from this time"),
                    query("region", {"type": "string", "example": "US"}, "for a number without a country code"),
                    *PAGING]),
    "calls_api.search_calls": Operation(
        "Calls", "Search calls, newest first", ok_schema=ref("CallPage"),
        parameters=[query("number", schemas.PHONE, "the number called"),
                    query("campaign", {"type": "string"}, "a campaign's id or name", example="3"),
                    query("from", schemas.TIME, "placed at or after", example="2026-11-30T00:00:00Z"),
                    query("to", schemas.TIME, "placed before", example="2026-12-01T00:00:00Z"),
                    query("outcome", {"type": "string", "enum": OUTCOME_VALUES},
                          "an answer class, or connected, abandoned, pending", example="abandoned"),
                    query("disposition", {"type": "string", "maxLength": 32}, "a disposition code", example="SALE"),
                    query("agent", {"type": "string", "maxLength": 64}, "the agent's login", example="alice"),
                    *PAGING]),
    "calls_api.show_call": Operation("Calls", "A call with every timestamp", ok_schema=ref("Call")),
    "reports_api.campaign_report": Operation(
        "Reports", "A campaign's day by hour, and its 30-day abandonment", ok_schema=ref("Report"),
        parameters=[query("day", {"type": "string", "format": "date"}, "the day (default: today)",
                          example="2026-11-30"),
                    query("tz", {"type": "string"}, "the zone of the day (default: the campaign's schedule zone)",
                          example="America/New_York")],
        param_descriptions={"campaign_ref": CAMPAIGN_REF}),
    "jobs.api_jobs": Operation(
        "Jobs", "Background jobs by state (imports, scrubs, exports, reports)", ok_schema=ref("JobList"),
        errors=(401, 403, 503)),
    "jobs.api_job": Operation(
        "Jobs", "One job: progress, retries, result or last error", ok_schema=ref("Job"),
        errors=(401, 403, 404, 503), param_descriptions={"job_id": "the id an upload or a command answered with"},
        path_schemas={"job_id": {"type": "string", "pattern": "^[A-Za-z0-9_-]+$", "example": "import-3-4f1c"}}),
    "api_docs.openapi_document": Operation(
        "About the API", "This document (OpenAPI 3.1)", ok_schema={"type": "object"}, errors=()),
    "api_docs.docs": Operation(
        "About the API", "The API's reading page", ok_schema={"type": "string"}, errors=(401, 403),
        content_type="text/html"),
}

_ERRORS = {
    400: "the request is refused: the message says why and field names what to fix",
    401: "no valid session or API token (field: Authorization)",
    403: "your role may not use this operation",
    404: "nothing has that id or name",
    409: "the request conflicts with the present state",
    415: "the body is not in the media type this operation takes",
    503: "the job queue (Redis) cannot be reached",
}


def api_rules(app: Flask) -> list[tuple[str, str, str, Any]]:
    """(OpenAPI path, method, endpoint, rule) of every route under /api/."""
    found = []
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/api/"):
            continue
        path = _ARG.sub(lambda m: "{" + m.group(2) + "}", rule.rule)
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            found.append((path, method.lower(), rule.endpoint, rule))
    return found


def _path_parameters(rule: Any, operation: Operation) -> list[Schema]:
    params = []
    for name, converter in rule._converters.items():
        kind = type(converter).__name__
        schema: Schema = {"type": "integer", "minimum": 1} if kind == "IntegerConverter" else {
            "type": "string", "minLength": 1}
        schema = operation.path_schemas.get(name, schema)
        params.append({"name": name, "in": "path", "required": True, "schema": schema,
                       "description": operation.param_descriptions.get(name, name.replace("_", " ")),
                       "example": schema.get("example", 1 if schema["type"] == "integer" else "1")})
    return params


def build_document(app: Flask) -> dict[str, Any]:
    """The OpenAPI 3.1 document of the routes ``app`` has under /api/."""
    paths: dict[str, dict[str, Any]] = {}
    for path, method, endpoint, rule in api_rules(app):
        operation = OPERATIONS.get(endpoint)
        if operation is None:
            continue
        who = allowed_roles(app, endpoint) or frozenset()
        item: dict[str, Any] = {
            "operationId": endpoint.replace(".", "_"),
            "tags": [operation.tag],
            "summary": operation.summary,
            "description": _doc(app, endpoint),
            "x-roles": sorted(who) if who != PUBLIC else ["public"],
            "parameters": [*_path_parameters(rule, operation), *operation.parameters],
            "responses": _responses(operation),
        }
        if who == PUBLIC:
            item["security"] = []
        if operation.body is not None:
            item["requestBody"] = {"required": True, "content": {operation.body_type: {
                "schema": ref(operation.body), **({"example": ex} if (ex := _example(operation.body)) else {})}}}
        paths.setdefault(path, {})[method] = item
    return {
        "openapi": "3.1.0",
        "info": {"title": TITLE, "version": VERSION, "description": (
            "JSON over HTTPS for campaigns, contact lists, contacts, do-not-call lists, calls and reports. "
            "Send `Authorization: Bearer <token>` (`dialer user token <username>` issues one), or use the "
            "signed-in session of the web app with its X-CSRFToken header. Every refusal is JSON: "
            '`{"error": "...", "field": "..."}`.')},
        "servers": [{"url": "/"}],
        "tags": [{"name": name} for name in dict.fromkeys(op.tag for op in OPERATIONS.values())],
        "paths": dict(sorted(paths.items())),
        "components": {
            "schemas": schemas.SCHEMAS,
            "securitySchemes": {
                "bearerAuth": {"type": "http", "scheme": "bearer",
                               "description": "an API token issued with `dialer user token`"},
                "sessionCookie": {"type": "apiKey", "in": "cookie", "name": "session",
                                  "description": "the web app's sign-in; writes need the X-CSRFToken header"},
            },
        },
        "security": [{"bearerAuth": []}, {"sessionCookie": []}],
    }


def _doc(app: Flask, endpoint: str) -> str:
    view = app.view_functions.get(endpoint)
    text = (getattr(view, "__doc__", None) or "").strip()
    return " ".join(text.split()).replace("``", "`")


def _example(name: str) -> Any:
    return schemas.SCHEMAS.get(name, {}).get("example")


def _responses(operation: Operation) -> dict[str, Any]:
    ok: dict[str, Any] = {"description": operation.ok_description}
    if operation.ok_schema is not None:
        ok["content"] = {operation.content_type: {"schema": operation.ok_schema}}
    responses: dict[str, Any] = {str(operation.ok): ok}
    for code, description in operation.also.items():
        responses[str(code)] = {**ok, "description": description}
    for code in operation.errors:
        responses[str(code)] = {"description": _ERRORS[code],
                                "content": {"application/json": {"schema": ref("Error")}}}
    return responses


@bp.app_template_filter("api_inline_code")
def inline_code(text: str) -> Markup:
    """`name` in the document's prose shown as code, everything else escaped."""
    parts = str(escape(text)).split("`")
    return Markup("".join(f"<code>{part}</code>" if i % 2 else part for i, part in enumerate(parts)))


@bp.get("/api/openapi.json")
@public
def openapi_document() -> ResponseReturnValue:
    """The OpenAPI document, open to anyone: it holds no data, and client generators fetch it unauthenticated."""
    return jsonify(build_document(current_app))


@bp.get("/api/docs")
def docs() -> ResponseReturnValue:
    """Every operation with its parameters, body and answers, read from the OpenAPI document."""
    document = build_document(current_app)
    sections: dict[str, list[dict[str, Any]]] = {tag["name"]: [] for tag in document["tags"]}
    for path, methods in document["paths"].items():
        for method, item in methods.items():
            sections.setdefault(item["tags"][0], []).append({
                "method": method.upper(), "path": path, "item": item,
                "body": _body_rows(item), "example": _pretty(_body_example(item)),
                "curl": _curl(method.upper(), path, item),
            })
    return render_template("api/docs.html", document=document, sections=sections)


def _pretty(value: Any) -> str | None:
    return None if value is None else json.dumps(value, indent=2)


def _body_example(item: dict[str, Any]) -> Any:
    content = item.get("requestBody", {}).get("content", {})
    return next((media.get("example") for media in content.values()), None)


def _body_rows(item: dict[str, Any]) -> list[dict[str, Any]]:
    """(name, type, required, description) of the body's fields, for the page's table."""
    content = item.get("requestBody", {}).get("content", {})
    for media in content.values():
        name = media["schema"]["$ref"].rsplit("/", 1)[-1]
        schema = schemas.SCHEMAS[name]
        required = set(schema.get("required", []))
        return [{"name": key, "type": _type_text(value), "required": key in required,
                 "description": value.get("description") or next(
                     (option.get("description", "") for option in value.get("anyOf", [])), "")}
                for key, value in schema.get("properties", {}).items()]
    return []


def _type_text(schema: Schema) -> str:
    if "anyOf" in schema:
        return " or ".join(_type_text(option) for option in schema["anyOf"])
    if "$ref" in schema:
        return schema["$ref"].rsplit("/", 1)[-1]
    kind = schema.get("type", "any")
    if isinstance(kind, list):
        kind = " or ".join(kind)
    if kind == "array":
        return f"list of {_type_text(schema.get('items', {}))}"
    if "enum" in schema:
        return f"{kind}: {' | '.join(str(v) for v in schema['enum'])}"
    if schema.get("format"):
        return f"{kind} ({schema['format']})"
    return str(kind)


def _curl(method: str, path: str, item: dict[str, Any]) -> str:
    example_path = path
    for param in item["parameters"]:
        if param["in"] == "path":
            example_path = example_path.replace("{" + param["name"] + "}", "3")
    parts = ["curl"]
    if method != "GET":
        parts.append(f"-X {method}")
    if item.get("security") != []:
        parts.append('-H "Authorization: Bearer $DIALER_TOKEN"')
    content = item.get("requestBody", {}).get("content", {})
    if "multipart/form-data" in content:
        parts.append("-F file=@leads.csv")
    elif content:
        parts.append("-H 'Content-Type: application/json'")
        example = _body_example(item)
        parts.append(f"-d '{json.dumps(example) if example is not None else '{}'}'")
    parts.append(f'"$DIALER_URL{example_path}"')
    return " ".join(parts)
