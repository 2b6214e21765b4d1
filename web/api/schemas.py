"""The JSON shapes of the OpenAPI document (``components/schemas``), kept beside the views that produce them."""

from __future__ import annotations

from typing import Any

from campaigns import services
from campaigns.models import ContactStatus
from campaigns.schedule import MAX_WINDOWS
from web.api.calls import OUTCOMES
from web.api.contacts import MAX_PHONES
from web.api.lists import ENCODINGS
from web.api.shapes import CALL_TIMESTAMPS

Schema = dict[str, Any]


def ref(name: str) -> Schema:
    return {"$ref": f"#/components/schemas/{name}"}


def nullable(schema: Schema) -> Schema:
    return {"anyOf": [schema, {"type": "null"}]}


STRING: Schema = {"type": "string"}
INTEGER: Schema = {"type": "integer"}
NUMBER: Schema = {"type": "number"}
BOOLEAN: Schema = {"type": "boolean"}
TIME: Schema = {"type": "string", "format": "date-time"}
PHONE: Schema = {"type": "string", "maxLength": 40, "example": "+12015550123"}


def page_of(item: str) -> Schema:
    return {
        "type": "object",
        "required": ["items", "total", "limit", "offset"],
        "properties": {"items": {"type": "array", "items": ref(item)}, "total": INTEGER, "limit": INTEGER,
                       "offset": INTEGER},
    }


_CLOCK = "^([01]?[0-9]|2[0-3]):[0-5][0-9]$"
_SCHEDULE_SLOT: Schema = {
    "type": "object",
    "required": ["days", "start", "end"],
    "properties": {
        "days": {"type": "array", "items": {"type": "integer", "minimum": 0, "maximum": 6}, "minItems": 1,
                 "description": "weekdays, Monday 0"},
        "start": {"type": "string", "pattern": _CLOCK, "example": "09:00"},
        "end": {"type": "string", "pattern": "^(([01]?[0-9]|2[0-3]):[0-5][0-9]|24:00)$", "example": "17:30"},
    },
}

CAMPAIGN_SETTINGS: dict[str, Schema] = {
    "name": {"type": "string", "minLength": 1, "maxLength": 200, "example": "Spring renewals"},
    "description": STRING,
    "purpose": {"type": "string", "enum": list(services.PURPOSES)},
    "dial_mode": {"type": "string", "enum": list(services.DIAL_MODES)},
    "pacer": {"type": "string", "example": "predictive", "description": "preview, progressive, predictive, "
              "ratio:N (power dialing) or another registered pacer"},
    "caller_id": {**PHONE, "description": "the number customers see (E.164 or national)"},
    "default_region": {"type": "string", "minLength": 2, "maxLength": 2, "example": "US"},
    "ring_timeout_s": {"type": "integer", "minimum": services.MIN_RING_TIMEOUT_S,
                       "maximum": services.MAX_RING_TIMEOUT_S},
    "max_attempts": {"type": "integer", "minimum": 1},
    "retry_delays_min": {"type": "array", "items": {"type": "integer", "minimum": 1}, "minItems": 1},
    "target_abandon": {"type": "number", "exclusiveMinimum": 0, "maximum": services.MAX_ABANDON_RATE},
    "safe_harbour_s": {"type": "number", "exclusiveMinimum": 0, "maximum": services.MAX_SAFE_HARBOUR_S},
    "amd_enabled": BOOLEAN,
    "machine_action": {"type": "string", "enum": list(services.MACHINE_ACTIONS)},
    "voicemail_message": STRING,
    "drop_message": {"type": "string", "description": "must name the seller, say it is telemarketing, give a "
                     "number to call back and a key-press opt-out"},
    "calling_window": {"type": "string", "example": "09:00-20:00"},
    "requires_consent": BOOLEAN,
    "prerecorded": BOOLEAN,
    "max_dial_level": {"type": "number", "minimum": 1, "maximum": 10},
    "record_calls": BOOLEAN,
    "recording_announcement": STRING,
    "script": {"type": "string", "description": "what agents read; merge fields like {first_name}"},
    "caller_ids": {"type": "array", "items": PHONE, "description": "more numbers to present, used in turn"},
    "schedule": {"type": "array", "items": _SCHEDULE_SLOT, "maxItems": MAX_WINDOWS,
                 "description": "weekly windows in schedule_tz when the campaign dials by itself; [] for by hand"},
    "schedule_tz": {"type": "string", "example": "America/New_York"},
}

_CONTACT_FIELDS: dict[str, Schema] = {
    "first_name": {"type": "string", "maxLength": 100, "example": "Ada"},
    "last_name": {"type": "string", "maxLength": 100, "example": "Lovelace"},
    "email": {"type": "string", "maxLength": 200},
    "external_id": nullable({"type": "string", "maxLength": 100, "description": "your system's id of the person"}),
    "state": nullable({"type": "string", "maxLength": 8, "description": "state or province, e.g. IL"}),
    "postal_code": nullable({"type": "string", "maxLength": 16}),
    "timezone": nullable({"type": "string", "example": "America/Chicago",
                          "description": "where the person is, when known better than the number says"}),
    "priority": {"type": "integer", "minimum": -1_000_000, "maximum": 1_000_000,
                 "description": "higher is dialed first"},
    "custom_fields": {"type": "object", "maxProperties": 50,
                      "additionalProperties": nullable({"type": ["string", "number", "boolean"]}),
                      "description": "merge fields for the script, e.g. {\"plan\": \"gold\"}"},
}

_PHONE_IN: Schema = {"anyOf": [PHONE, {
    "type": "object", "additionalProperties": False, "required": ["number"],
    "properties": {"number": PHONE, "label": {"type": "string", "minLength": 1, "maxLength": 32}},
}]}

_COUNTS: Schema = {
    "type": "object",
    "properties": {key: INTEGER for key in ("attempts", "answers", "live_answers", "connects", "abandoned")}
    | {"abandonment_rate": NUMBER},
}

_DNC_ENTRY: Schema = {
    "type": "object",
    "properties": {"e164": STRING, "list": STRING, "campaign_id": nullable(INTEGER), "added_at": TIME,
                   "reason": STRING, "source": STRING, "actor": STRING},
}

SCHEMAS: dict[str, Schema] = {
    "Error": {
        "type": "object",
        "required": ["error"],
        "properties": {"error": {"type": "string", "description": "what is wrong, for people"},
                       "field": nullable({"type": "string", "description": "the field, parameter or header at fault"})},
        "example": {"error": "must be a phone number, e.g. +12015550123", "field": "caller_id"},
    },
    "CampaignCreate": {
        "type": "object", "additionalProperties": False, "required": ["name", "caller_id"],
        "properties": CAMPAIGN_SETTINGS,
        "example": {"name": "Spring renewals", "caller_id": "+12015550123", "dial_mode": "predictive",
                    "target_abandon": 0.02, "calling_window": "09:00-20:00"},
    },
    "CampaignUpdate": {
        "type": "object", "additionalProperties": False, "properties": CAMPAIGN_SETTINGS,
        "example": {"target_abandon": 0.015, "script": "Hello {first_name}, this is {agent_name}..."},
    },
    "Campaign": {
        "type": "object",
        "properties": {"id": INTEGER, "status": {"type": "string", "enum": ["draft", "active", "paused", "finished"]},
                       **CAMPAIGN_SETTINGS, "created_at": nullable(TIME), "updated_at": nullable(TIME)},
    },
    "CampaignWithSummary": {"allOf": [ref("Campaign"), {"type": "object", "properties": {"summary": {
        "type": "object", "properties": {"lists": INTEGER, "contacts": INTEGER, "attempts": INTEGER,
                                         "connected": INTEGER, "abandoned": INTEGER,
                                         "contacts_by_status": {"type": "object"},
                                         "calls_by_answer_class": {"type": "object"}}}}}]},
    "CampaignChange": {"type": "object", "properties": {"campaign": ref("Campaign"), "changes": {
        "type": "object", "description": "{setting: {from, to}} of what changed"}}},
    "ContactList": {
        "type": "object",
        "properties": {key: INTEGER for key in ("id", "campaign_id", "rows_total", "rows_imported",
                                                "rows_rejected", "rows_through")}
        | {"name": STRING, "default_region": STRING, "created_at": nullable(TIME), "finished_at": nullable(TIME)},
    },
    "ContactListDetail": {"allOf": [ref("ContactList"), {"type": "object", "properties": {
        "contacts": INTEGER, "phones": INTEGER, "attempts": INTEGER, "rejects_available": BOOLEAN,
        "contacts_by_status": {"type": "object", "additionalProperties": INTEGER}}}]},
    "ListUpload": {
        "type": "object", "required": ["file"], "additionalProperties": False,
        "properties": {
            "file": {"type": "string", "format": "binary", "description": "the CSV, with a header row"},
            "name": {"type": "string", "maxLength": 200, "description": "the list's name (default: the file's)"},
            "region": {"type": "string", "example": "US", "description": "for numbers without a country code"},
            "encoding": {"type": "string", "enum": list(ENCODINGS)},
            "mapping": {"type": "array", "items": {"type": "string", "example": "Cell=phone"},
                        "description": "COLUMN=FIELD pairs where the headings are not recognised"},
        },
    },
    "ImportQueued": {"type": "object", "properties": {"job_id": STRING, "job_url": nullable(STRING),
                                                     "campaign_id": INTEGER, "list_name": nullable(STRING)}},
    "Rejects": {"allOf": [page_of("RejectedRow"), {"type": "object", "properties": {
        "list_id": INTEGER, "available": BOOLEAN, "rows_rejected": INTEGER}}]},
    "RejectedRow": {"type": "object", "properties": {"row": nullable(INTEGER), "reason": STRING, "detail": STRING,
                                                    "cells": {"type": "object"}}},
    "Phone": {"type": "object", "properties": {"id": INTEGER, "e164": STRING, "label": STRING, "position": INTEGER,
                                               "timezones": {"type": "array", "items": STRING}, "status": STRING,
                                               "attempts": INTEGER}},
    "Contact": {"type": "object", "properties": {
        "id": INTEGER, "campaign_id": INTEGER, "list_id": INTEGER, **_CONTACT_FIELDS,
        "status": {"type": "string", "enum": [s.value for s in ContactStatus]}, "attempts": INTEGER,
        "next_eligible_at": nullable(TIME), "last_attempt_at": nullable(TIME),
        "last_disposition": nullable(STRING), "created_at": nullable(TIME),
        "phones": {"type": "array", "items": ref("Phone")}}},
    "ContactDetail": {"allOf": [ref("Contact"), {"type": "object", "properties": {
        "calls": {"type": "array", "items": ref("Call")}}}]},
    "ContactCreate": {
        "type": "object", "additionalProperties": False, "required": ["phones"],
        "properties": {"phones": {"type": "array", "items": _PHONE_IN, "minItems": 1, "maxItems": MAX_PHONES,
                                  "description": 'numbers, or {"number", "label"}; none may be in the campaign yet'},
                       "list_id": nullable({"type": "integer", "minimum": 1,
                                            "description": "default: the campaign's list of contacts added by hand"}),
                       **_CONTACT_FIELDS},
        "example": {"first_name": "Ada", "last_name": "Lovelace", "phones": [{"number": "+12015550123",
                                                                              "label": "mobile"}]},
    },
    "ContactUpdate": {"type": "object", "additionalProperties": False, "properties": _CONTACT_FIELDS,
                      "example": {"timezone": "America/Chicago", "priority": 5}},
    "ContactFinish": {"type": "object", "additionalProperties": False,
                      "properties": {"reason": {"type": "string", "maxLength": 500}},
                      "example": {"reason": "asked by letter to stop calling"}},
    "ContactPage": page_of("Contact"),
    "Call": {"type": "object", "properties": {
        **{key: nullable(INTEGER) for key in ("id", "campaign_id", "contact_id", "phone_id", "attempt_number")},
        **{key: nullable(STRING) for key in ("e164", "caller_id", "carrier_call_id", "state", "answer_class",
                                             "amd_verdict", "end_reason", "disposition", "notes", "agent")},
        **{key: nullable(NUMBER) for key in ("ring_s", "talk_s", "wrap_s")},
        "timestamps": {"type": "object", "properties": {name: nullable(TIME) for name in CALL_TIMESTAMPS}}}},
    "CallPage": page_of("Call"),
    "DncEntry": _DNC_ENTRY,
    "DncEntryPage": page_of("DncEntry"),
    "DncCheck": {"type": "object", "properties": {
        "e164": STRING, "campaign_id": nullable(INTEGER), "listed": BOOLEAN, "company": nullable(ref("DncEntry")),
        "campaign": nullable(ref("DncEntry")), "every_list": {"type": "array", "items": ref("DncEntry")},
        "national": nullable({"type": "object", "properties": {"listed": BOOLEAN, "covered": BOOLEAN,
                                                               "copy_downloaded_at": nullable(TIME),
                                                               "version": nullable(STRING)}})}},
    "DncAdd": {"type": "object", "additionalProperties": False, "required": ["phone"], "properties": {
        "phone": PHONE, "reason": {"type": "string", "maxLength": 200}, "campaign_id": nullable(
            {"type": "integer", "minimum": 1}), "evidence": {"type": "string", "maxLength": 2000},
        "received_at": nullable(TIME), "region": {"type": "string", "example": "US"}},
        "example": {"phone": "+12015550123", "reason": "asked on the phone", "evidence": "call 1842"}},
    "DncRemove": {"type": "object", "additionalProperties": False, "required": ["phone", "reason"], "properties": {
        "phone": PHONE, "reason": {"type": "string", "minLength": 1, "maxLength": 2000},
        "campaign_id": nullable({"type": "integer", "minimum": 1}), "evidence": {"type": "string",
                                                                                "maxLength": 2000},
        "region": {"type": "string", "example": "US"}},
        "example": {"phone": "+12015550123", "reason": "added by mistake: wrong digit typed"}},
    "DncChange": {"type": "object", "properties": {
        "id": INTEGER, "e164": STRING, "campaign_id": nullable(INTEGER), "list": STRING,
        "action": {"type": "string", "enum": ["add", "remove"]}, "changed": BOOLEAN, "reason": STRING,
        "source": STRING, "actor": STRING, "evidence": STRING, "received_at": TIME, "effective_at": TIME}},
    "DncChangePage": page_of("DncChange"),
    "Counts": _COUNTS,
    "Report": {"type": "object", "properties": {
        "campaign_id": INTEGER, "campaign": STRING, "day": {"type": "string", "format": "date"},
        "timezone": STRING, "target_abandon": NUMBER, "legal_limit": NUMBER, "totals": ref("Counts"),
        "by_hour": {"type": "array", "items": {"allOf": [ref("Counts"), {"type": "object", "properties": {
            "hour": TIME, "start": TIME, "end": TIME}}]}},
        "rolling_30_days": {"type": "object", "description": "abandonment over the 30 days ending now"},
        "periods": {"type": "array", "items": {"type": "object"},
                    "description": "successive 30-day periods from the first call"},
        "all_time": {"type": "object"}}},
    "Job": {"type": "object", "properties": {
        "id": STRING, "kind": nullable(STRING), "description": nullable(STRING), "queue": nullable(STRING),
        "state": STRING, "status": nullable(STRING), "enqueued_at": nullable(TIME), "started_at": nullable(TIME),
        "ended_at": nullable(TIME), "retries": INTEGER, "retries_left": nullable(INTEGER),
        "progress": nullable({"type": "object"}), "result": nullable({"type": "object"}),
        "error": nullable(STRING)}},
    "JobList": {"type": "object", "properties": {"jobs": {"type": "array", "items": ref("Job")}}},
}

OUTCOME_VALUES = list(OUTCOMES)
