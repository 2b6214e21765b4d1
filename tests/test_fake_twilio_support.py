"""Helpers for the fake Twilio tests: a stand-in, a webhook receiver, and Twilio's OpenAPI spec.

The spec is not shipped with the package: in development and CI the
repository's parent holds a ``shared`` folder with it. Without it the spec
checks are skipped, except under CI (``CI=true``), where they fail instead.
"""

from __future__ import annotations

import json
import os
import re
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from twilio.rest import Client

from dialer.carriers.fake_twilio import FakeTwilioConfig, FakeTwilioServer, running
from dialer.carriers.twilio_local import local_http_client
from dialer.simulation.scenario import Scenario

ACCOUNT_SID = "AC" + "0123456789abcdef" * 2
AUTH_TOKEN = "fake-token-for-tests"
CALLER_ID = "+12015550123"
CUSTOMER = "+12025550142"
SPEC_PATH = Path("shared") / "twilio" / "twilio_api_v2010.json"

# Everyone answers in person, quickly; the detector is always right; talk lasts exactly 4 s.
PEOPLE = Scenario(
    p_human=((0.0, 1.0),),
    p_machine=0.0,
    p_busy=0.0,
    p_invalid=0.0,
    setup_s=(0.5, 0.5),
    ring_median_s=2.0,
    ring_p90_s=2.0,
    amd_s=(2.5, 2.5),
    amd_human_as_machine=0.0,
    amd_machine_as_human=0.0,
    patience_mean_s=10_000.0,
    talk_mean_s=4.0,
    talk_cv=0.0,
)
MACHINES = replace(PEOPLE, p_human=((0.0, 0.0),), p_machine=1.0)
BUSY = replace(PEOPLE, p_human=((0.0, 0.0),), p_busy=1.0)
NOBODY = replace(PEOPLE, p_human=((0.0, 0.0),))


def config(scenario: Scenario = PEOPLE, **options: Any) -> FakeTwilioConfig:
    options.setdefault("speed", 40.0)
    options.setdefault("cps", 100.0)
    return FakeTwilioConfig(ACCOUNT_SID, AUTH_TOKEN, scenario=scenario, **options)


@contextmanager
def stand_in(scenario: Scenario = PEOPLE, **options: Any) -> Iterator[FakeTwilioServer]:
    with running(config(scenario, **options)) as server:
        yield server


def client_for(server: FakeTwilioServer) -> Client:
    return Client(ACCOUNT_SID, AUTH_TOKEN, http_client=local_http_client(server.base_url))


def get_json(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=10) as response:
        return json.load(response)


def fake_call(server: FakeTwilioServer, sid: str) -> dict[str, Any]:
    return get_json(f"{server.base_url}/_fake/calls/{sid}")


def wait_for(condition: Callable[[], Any], timeout_s: float = 10.0, what: str = "the condition") -> Any:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.02)
    raise AssertionError(f"timed out waiting for {what}")


def wait_until_ended(server: FakeTwilioServer, sid: str, timeout_s: float = 10.0) -> dict[str, Any]:
    def ended() -> dict[str, Any] | None:
        call = fake_call(server, sid)
        return call if call["ended_at"] is not None else None

    return wait_for(ended, timeout_s, f"call {sid} to end")


# ---------------------------------------------------------------------- a webhook receiver
@dataclass
class Hook:
    method: str
    path: str
    url: str  # the full URL as Twilio signs it (query included)
    params: dict[str, str]
    signature: str | None
    at: float


@dataclass
class Receiver:
    """A tiny web app: records every webhook and answers TwiML from ``routes`` (path -> XML or function)."""

    base_url: str = ""
    hooks: list[Hook] = field(default_factory=list)
    routes: dict[str, str | Callable[[dict[str, str]], str]] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def at(self, path: str) -> list[Hook]:
        with self.lock:
            return [hook for hook in self.hooks if hook.path == path]

    def wait(self, path: str, count: int = 1, timeout_s: float = 10.0) -> list[Hook]:
        return wait_for(lambda: len(self.at(path)) >= count and self.at(path), timeout_s, f"{count} hooks at {path}")


@contextmanager
def receiver(routes: dict[str, str | Callable[[dict[str, str]], str]] | None = None) -> Iterator[Receiver]:
    app = Receiver(routes=dict(routes or {}))

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:
            pass

        def _handle(self, method: str) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length).decode("utf-8") if length else ""
            parts = urlsplit(self.path)
            raw = parse_qs(body if method == "POST" else parts.query, keep_blank_values=True)
            params = {name: values[0] for name, values in raw.items()}
            hook = Hook(method, parts.path, app.base_url + self.path, params, self.headers.get("X-Twilio-Signature"),
                        time.monotonic())
            with app.lock:
                app.hooks.append(hook)
            route = app.routes.get(parts.path)
            if route is None:
                status, text = (200, "") if parts.path != "/fail" else (500, "broken")
            else:
                status, text = 200, route(params) if callable(route) else route
            data = text.encode("utf-8")
            self.send_response(status)
            self.send_header("Content-Type", "text/xml")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_POST(self) -> None:
            self._handle("POST")

        def do_GET(self) -> None:
            self._handle("GET")

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    app.base_url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield app
    finally:
        server.shutdown()
        server.server_close()


# ---------------------------------------------------------------------- Twilio's OpenAPI spec
def find_spec() -> Path | None:
    for folder in Path(__file__).resolve().parents:
        candidate = folder / SPEC_PATH
        if candidate.is_file():
            return candidate
    return None


def load_spec() -> dict[str, Any]:
    path = find_spec()
    if path is None:
        reason = f"Twilio's OpenAPI spec ({SPEC_PATH}) is not in any folder above the tests"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"{reason} (CI=true: the spec checks must run)", pytrace=False)
        pytest.skip(reason)
    return json.loads(path.read_text("utf-8"))


class SpecChecker:
    """Checks requests and responses against the operations and schemas of the spec."""

    def __init__(self, spec: dict[str, Any]) -> None:
        self.spec = spec

    def _resolve(self, schema: dict[str, Any]) -> dict[str, Any]:
        while "$ref" in schema:
            name = schema["$ref"].rsplit("/", 1)[-1]
            schema = self.spec["components"]["schemas"][name]
        return schema

    def operation(self, path: str, method: str) -> dict[str, Any]:
        for template, item in self.spec["paths"].items():
            pattern = "^" + "".join(
                "[^/]+" if part.startswith("{") else part.replace(".", r"\.")
                for part in _split_template(template)
            ) + "$"
            if re.match(pattern, path) and method.lower() in item:
                return item[method.lower()]
        raise AssertionError(f"no operation {method} {path} in the spec")

    def request_problems(self, path: str, method: str, form: dict[str, list[str]]) -> list[str]:
        operation = self.operation(path, method)
        body = operation.get("requestBody")
        if body is None:
            return [f"{name}: no request body expected" for name in form]
        schema = self._resolve(body["content"]["application/x-www-form-urlencoded"]["schema"])
        problems = [f"{name}: required" for name in schema.get("required", []) if name not in form]
        for name, values in form.items():
            prop = schema["properties"].get(name)
            if prop is None:
                problems.append(f"{name}: not a parameter of {operation['operationId']}")
                continue
            prop = self._resolve(prop)
            if prop.get("type") != "array" and len(values) > 1:
                problems.append(f"{name}: repeated but not an array")
            item = self._resolve(prop["items"]) if prop.get("type") == "array" else prop
            problems += [f"{name}: {p}" for value in values for p in self._form_value_problems(item, value)]
        return problems

    def _form_value_problems(self, schema: dict[str, Any], value: str) -> list[str]:
        kind = schema.get("type")
        if kind == "integer" and not value.lstrip("-").isdigit():
            return [f"{value!r} is not an integer"]
        if kind == "boolean" and value not in ("true", "false"):
            return [f"{value!r} is not a boolean"]
        return self._string_problems(schema, value) if kind == "string" else []

    def _string_problems(self, schema: dict[str, Any], value: str) -> list[str]:
        problems = []
        if "enum" in schema and value not in schema["enum"]:
            problems.append(f"{value!r} not in {schema['enum']}")
        if "pattern" in schema and not re.match(schema["pattern"], value):
            problems.append(f"{value!r} does not match {schema['pattern']}")
        if "minLength" in schema and len(value) < schema["minLength"]:
            problems.append(f"{value!r} shorter than {schema['minLength']}")
        if "maxLength" in schema and len(value) > schema["maxLength"]:
            problems.append(f"{value!r} longer than {schema['maxLength']}")
        return problems

    def response_schema(self, path: str, method: str, status: int) -> dict[str, Any]:
        response = self.operation(path, method)["responses"][str(status)]
        return self._resolve(response["content"]["application/json"]["schema"])

    def value_problems(self, schema: dict[str, Any], value: Any, where: str = "") -> list[str]:
        schema = self._resolve(schema)
        if value is None:
            return [] if schema.get("nullable") else [f"{where}: null but not nullable"]
        kind = schema.get("type", "string" if "enum" in schema else None)
        expected: dict[str, Any] = {
            "string": str, "integer": int, "boolean": bool, "object": dict, "array": list, "number": (int, float)
        }
        wrong_type = kind in expected and not isinstance(value, expected[kind])
        if wrong_type or (kind in ("integer", "number") and isinstance(value, bool)):
            return [f"{where}: {value!r} is not a {kind}"]
        if kind == "string":
            return [f"{where}: {p}" for p in self._string_problems(schema, value)]
        if kind == "array":
            items = schema.get("items", {})
            return [p for i, item in enumerate(value) for p in self.value_problems(items, item, f"{where}[{i}]")]
        if kind == "object" and "properties" in schema:
            problems = [f"{where}.{key}: not in the schema" for key in value if key not in schema["properties"]]
            problems += [f"{where}.{key}: required" for key in schema.get("required", []) if key not in value]
            for key, item in value.items():
                if key in schema["properties"]:
                    problems += self.value_problems(schema["properties"][key], item, f"{where}.{key}")
            return problems
        return []


def _split_template(template: str) -> list[str]:
    return re.split(r"(\{[^}]+\})", template)
