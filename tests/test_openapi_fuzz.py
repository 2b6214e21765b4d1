"""The served OpenAPI document against the app itself: it lists every /api/ route, and no input makes a 500.

Schemathesis reads /api/openapi.json from the app in-process and sends each
operation generated requests (valid ones from the schemas and examples, and
deliberately invalid ones), signed with an administrator's API token so the
requests reach the views; any 5xx answer, or an exception escaping a view,
fails the operation's test.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from sqlalchemy import text

from campaigns import accounts, db
from campaigns.db import make_engine
from tests.test_api import seed_floor
from tests.web_support import PASSWORD, ROLE_USERS, WebRig, make_rig
from web import create_app, resources
from web.api.openapi import OPERATIONS, api_rules

MAX_EXAMPLES = 10


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgresql", marks=pytest.mark.integration)])
def fuzz_rig(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[WebRig, str]]:
    """An app with a seeded campaign (id 1: list 1, contact 1, calls 1-3) and an administrator's token.

    On SQLite always; on PostgreSQL too when the server is there, since it refuses
    what SQLite lets by (NUL bytes, ids past 32 bits) and those must be 4xx too.
    """
    folder: Path = tmp_path_factory.mktemp("fuzz")
    schema_name = None
    if request.param == "sqlite":
        rig = make_rig(folder, UPLOAD_DIR=str(folder / "uploads"))
    else:
        server = request.getfixturevalue("pg_server_url")
        schema_name = f"test_fuzz_{uuid.uuid4().hex[:12]}"
        with make_engine(server).begin() as connection:
            connection.execute(text(f'CREATE SCHEMA "{schema_name}"'))
        url = f"{server}{'&' if '?' in server else '?'}options={quote(f'-csearch_path={schema_name}')}"
        rig = pg_rig(url, folder)
    with rig.sessions()() as session, session.begin():
        seed_floor(session)
        admin = accounts.get_user(session, "ada")
        assert admin is not None
        token = accounts.issue_token(session, admin, "fuzz").token
    yield rig, token
    with rig.app.app_context():
        resources().engine.dispose()
    if schema_name is not None:
        engine = make_engine(request.getfixturevalue("pg_server_url"))
        with engine.begin() as connection:
            connection.execute(text(f'DROP SCHEMA "{schema_name}" CASCADE'))
        engine.dispose()


def pg_rig(url: str, folder: Path) -> WebRig:
    """The web rig of tests/web_support.py, on a PostgreSQL schema instead of a SQLite file."""
    db.ensure_schema(url)
    engine = db.make_engine(url)
    with db.make_session_factory(engine)() as session, session.begin():
        for role, username in ROLE_USERS.items():
            accounts.create_user(session, username, PASSWORD, role)
    engine.dispose()
    app = create_app({"TESTING": True, "DATABASE_URL": url, "REDIS_URL": f"memory://fuzz-{uuid.uuid4().hex}",
                      "SECRET_KEY": "test-secret-key-0123456789", "UPLOAD_DIR": str(folder / "uploads")})
    return WebRig(app, url)


@pytest.fixture(scope="module")
def api_schema(fuzz_rig: tuple[WebRig, str]) -> schemathesis.BaseSchema:
    rig, _ = fuzz_rig
    schema = schemathesis.openapi.from_wsgi("/api/openapi.json", rig.app)
    schema.config.generation.update(max_examples=MAX_EXAMPLES)
    return schema


#: The seeded rows, so generated requests reach real records and not only 404s.
SEEDED_PATH = {"campaign_ref": "1", "list_id": 1, "contact_id": 1, "call_id": 1, "job_id": "import-1-seeded"}
CASES = [
    pytest.param(endpoint, mode, paths)
    for endpoint in sorted(OPERATIONS)
    for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)
    for paths in ("seeded path", "any path")
]


@pytest.mark.slow
@pytest.mark.parametrize(("endpoint", "mode", "paths"), CASES)
def test_no_generated_request_makes_an_api_operation_answer_with_a_server_error(
    api_schema, fuzz_rig, endpoint, mode, paths
):
    _, token = fuzz_rig
    operation = api_schema.find_operation_by_id(endpoint.replace(".", "_"))
    path_names = {parameter.name for parameter in operation.path_parameters}
    if paths == "seeded path" and not path_names:
        pytest.skip("the operation has no path parameters")
    fixed = {name: SEEDED_PATH[name] for name in path_names} if paths == "seeded path" else None
    others = [*operation.query, *operation.headers, *operation.cookies]
    if mode is GenerationMode.NEGATIVE and not (others or operation.body or (path_names and fixed is None)):
        pytest.skip("the operation takes no input that could be made invalid")

    @given(case=operation.as_strategy(generation_mode=mode, path_parameters=fixed))
    @settings(max_examples=MAX_EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck), database=None)
    def no_server_error(case: schemathesis.Case) -> None:
        response = case.call(headers={"Authorization": f"Bearer {token}"})
        case.validate_response(response, checks=[not_a_server_error])

    no_server_error()


def test_every_api_route_is_in_the_document_and_every_documented_operation_is_a_route(tmp_path):
    rig = make_rig(tmp_path)
    document = rig.app.test_client().get("/api/openapi.json").get_json()
    documented = {(path, method) for path, methods in document["paths"].items() for method in methods}
    served = {(path, method) for path, method, _, _ in api_rules(rig.app)}
    endpoints = {endpoint for _, _, endpoint, _ in api_rules(rig.app)}

    assert served - documented == set(), "routes under /api/ missing from the OpenAPI document"
    assert documented - served == set(), "operations in the document with no route"
    assert set(OPERATIONS) - endpoints == set(), "operations described for endpoints the app does not have"


def test_every_operation_documents_its_refusals_with_the_error_shape(tmp_path):
    rig = make_rig(tmp_path)
    document = rig.app.test_client().get("/api/openapi.json").get_json()

    for path, methods in document["paths"].items():
        for method, operation in methods.items():
            if operation.get("security") == []:
                continue  # public: nothing to refuse
            for status in ("401", "403"):
                error = operation["responses"].get(status)
                assert error is not None, (method, path, status)
                assert error["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/Error"}
