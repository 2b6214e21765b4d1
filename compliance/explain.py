"""``dialer compliance explain`` without the command line: a request in, the gate's decision out.

An officer (or a script) asks "could this number have been called at that
instant, and why not?": the request names the number, the instant, what is
known of the place (state, postal code, stated zone), the campaign's purpose
and window, and the earlier attempts.  The answer is the very decision the
dial gate gives the engine (``default_gate``), as JSON, with the citation and
confidence of each blocking rule.

Everything here is pure (no files, no clock): the command reads and writes.
Batches are fast because the gate caches zone resolution and rule choice,
and the campaign policies built from (purpose, window) are cached here.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from compliance.gate import CallingWindow, CampaignPolicy, DialGate, DialTarget, default_gate
from compliance.history import Attempt, HistoryError, history_from, parse_instant
from compliance.ruleset import PURPOSES, RuleSet, default_ruleset
from compliance.timezones import UnknownPlace, country_of_number, normalize_state, state_for_postal_code

__all__ = ["KEYS", "ExplainRequest", "Explainer", "RequestError", "explain"]

#: The keys of a request (one line of a batch).
KEYS = ("phone", "at", "state", "postal_code", "purpose", "window", "history", "timezone")
_E164 = re.compile(r"^\+[1-9]\d{6,14}$")
_CAMPAIGN_ID = 0  # explain is not about a stored campaign


class RequestError(ValueError):
    """A request that cannot be judged; the message names the key."""


@dataclass(frozen=True, slots=True)
class ExplainRequest:
    phone: str
    at: datetime  # aware, UTC
    state: str | None = None
    postal_code: str | None = None
    purpose: str = "telemarketing"
    window: str = "08:00-21:00"
    history: tuple[Attempt, ...] = ()
    timezone: tuple[str, ...] = ()  # zones stated for the contact


def _text(data: Mapping[str, Any], key: str) -> str | None:
    value = data.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        raise RequestError(f"{key} must be a string, not {value!r}")
    return value.strip() or None


def parse_request(data: object) -> ExplainRequest:
    """A request from a JSON object with the keys of ``KEYS``; RequestError names what is wrong."""
    if not isinstance(data, dict):
        raise RequestError("a request must be a JSON object")
    unknown = sorted(set(data) - set(KEYS))
    if unknown:
        raise RequestError(f"unknown key {unknown[0]!r}; the keys are {', '.join(KEYS)}")
    phone = _text(data, "phone")
    if phone is None:
        raise RequestError("phone is required (E.164, like +12125550100)")
    if not _E164.match(phone):
        raise RequestError(f"phone {phone!r} is not E.164 (a + and 7 to 15 digits, like +12125550100)")
    at_text = _text(data, "at")
    if at_text is None:
        raise RequestError("at is required (an ISO 8601 instant with its offset, like 2026-03-08T14:00:00Z)")
    try:
        at = parse_instant(at_text).astimezone(UTC)
    except HistoryError as exc:
        raise RequestError(f"at: {exc}") from None
    purpose = _text(data, "purpose") or "telemarketing"
    if purpose not in PURPOSES:
        raise RequestError(f"purpose {purpose!r} is not one of {', '.join(PURPOSES)}")
    window = _text(data, "window") or "08:00-21:00"
    try:
        _window(window)
    except ValueError as exc:
        raise RequestError(f"window: {exc}") from None
    state, postal = _text(data, "state"), _text(data, "postal_code")
    try:
        if state is not None:
            normalize_state(state, country_of_number(phone))
        if postal is not None and country_of_number(phone) in (None, "US", "CA", "PR", "GU", "VI", "AS", "MP"):
            state_for_postal_code(postal)
    except UnknownPlace as exc:
        raise RequestError(str(exc)) from None
    zones = data.get("timezone")
    if isinstance(zones, str):
        zones = [zones]
    if zones is not None and (not isinstance(zones, list) or not all(isinstance(z, str) for z in zones)):
        raise RequestError("timezone must be an IANA zone name or a list of them")
    try:
        history = history_from(data.get("history"))
    except HistoryError as exc:
        raise RequestError(f"history: {exc}") from None
    return ExplainRequest(phone, at, state, postal, purpose, window, history, tuple(zones or ()))


_windows: dict[str, CallingWindow] = {}


def _window(text: str) -> CallingWindow:
    window = _windows.get(text)
    if window is None:
        if len(_windows) > 1024:
            _windows.clear()
        window = _windows[text] = CallingWindow.parse(text)
    return window


class Explainer:
    """Judges requests with one gate and one rule set, caching what does not change between them."""

    def __init__(self, gate: DialGate | None = None, ruleset: RuleSet | None = None) -> None:
        self.ruleset = ruleset or default_ruleset()
        self.gate = gate or default_gate(ruleset=self.ruleset)
        self._policies: dict[tuple[str, str], CampaignPolicy] = {}

    def policy(self, purpose: str, window: str) -> CampaignPolicy:
        key = (purpose, window)
        policy = self._policies.get(key)
        if policy is None:
            policy = self._policies[key] = CampaignPolicy(_CAMPAIGN_ID, _window(window), purpose)
        return policy

    def explain(self, request: ExplainRequest) -> dict[str, Any]:
        """The decision for ``request`` as a JSON-able dict, each blocking reason with its citation."""
        target = DialTarget(request.phone, request.timezone, request.state, request.postal_code,
                            history=request.history)
        decision = self.gate.can_dial(target, self.policy(request.purpose, request.window), request.at)
        out: dict[str, Any] = {"phone": request.phone, "purpose": request.purpose, "window": request.window}
        out.update(decision.to_dict())
        by_id = self.ruleset.by_id
        for reason in out["reasons"]:
            rule = by_id.get(reason["rule"])
            if rule is not None:
                reason["cite"], reason["conf"] = rule.cite, rule.conf
        return out

    def explain_data(self, data: object) -> dict[str, Any]:
        return self.explain(parse_request(data))

    def explain_line(self, line: str, number: int) -> dict[str, Any]:
        """One line of a batch: the decision, or an error object naming the line; never raises for bad input."""
        try:
            data = json.loads(line)
        except json.JSONDecodeError as exc:
            return {"line": number, "error": f"not JSON: {exc.msg} at column {exc.colno}"}
        try:
            return {"line": number, **self.explain_data(data)}
        except RequestError as exc:
            return {"line": number, "error": str(exc)}
        except (ValueError, TypeError, OverflowError) as exc:  # e.g. an instant so late no next time fits
            return {"line": number, "error": f"cannot judge this request: {exc}"}


def explain(data: Mapping[str, Any]) -> dict[str, Any]:
    """The decision for one request given as a mapping (the keys of ``KEYS``)."""
    return _default_explainer().explain_data(dict(data))


_explainer: Explainer | None = None


def _default_explainer() -> Explainer:
    global _explainer
    if _explainer is None:
        _explainer = Explainer()
    return _explainer
