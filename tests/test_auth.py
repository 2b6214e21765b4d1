"""Sign-in, roles on every route, CSRF and API tokens."""

from __future__ import annotations

import re

import pytest
from flask import Blueprint

from campaigns import accounts
from campaigns.account_models import ROLES
from tests.web_support import PASSWORD, ROLE_USERS, csrf_token, make_rig, sign_in
from web.auth import PUBLIC, allowed_roles

SAMPLE_ARGS = {"integer": 1, "float": 1.0, "string": "x", "path": "x", "default": "x",
               "uuid": "00000000-0000-0000-0000-000000000000"}


def concrete_routes(app):
    """(endpoint, url, method) for every route, with placeholder values for its arguments."""
    found = []
    for rule in app.url_map.iter_rules():
        if rule.endpoint == "static":
            continue
        url = rule.rule
        for name, converter in rule._converters.items():
            kind = type(converter).__name__.removesuffix("Converter").lower()
            url = re.sub(rf"<(?:[^:<>]+:)?{name}>", str(SAMPLE_ARGS.get(kind, "x")), url)
        methods = sorted((rule.methods or set()) - {"HEAD", "OPTIONS"})
        found.append((rule.endpoint, url, methods[0]))
    return found


def call(client, method, url):
    return client.open(url, method=method, headers={"Accept": "text/html"}, data={})


def test_every_route_declares_who_may_use_it(web):
    undeclared = [endpoint for endpoint, _, _ in concrete_routes(web.app) if allowed_roles(web.app, endpoint) is None]

    assert undeclared == []


def test_every_route_refuses_each_role_it_is_not_meant_for(tmp_path):
    rig = make_rig(tmp_path, csrf=False)
    clients = {role: rig.client(role) for role in ROLES}
    anonymous = rig.client()
    checked = 0
    for endpoint, url, method in concrete_routes(rig.app):
        allowed = allowed_roles(rig.app, endpoint)
        assert allowed is not None
        if allowed == PUBLIC or endpoint == "auth.logout":  # signing out would end the walk's sessions
            continue
        response = call(anonymous, method, url)
        assert response.status_code in (302, 401), (endpoint, "anonymous", response.status_code)
        for role in ROLES:
            response = call(clients[role], method, url)
            if role in allowed:
                assert response.status_code not in (401, 403), (endpoint, role, response.status_code)
            else:
                assert response.status_code == 403, (endpoint, role, response.status_code)
            checked += 1
    assert checked >= 4 * 3  # the walk really covered routes


def test_a_route_that_declares_no_roles_is_closed_to_everyone(tmp_path):
    rig = make_rig(tmp_path, csrf=False)
    undeclared = Blueprint("forgotten", __name__)
    undeclared.add_url_rule("/forgotten", "page", lambda: "secret")
    rig.app.register_blueprint(undeclared)

    assert rig.client("admin").get("/forgotten").status_code == 403


def test_a_person_signs_in_and_lands_on_the_page_of_their_role(web):
    client = web.client()
    token = csrf_token(client)

    response = client.post("/login", data={"username": "cora", "password": PASSWORD, "csrf_token": token})

    assert response.status_code == 302
    assert client.get("/account").status_code == 200
    assert "Cora" in client.get("/account").get_data(as_text=True)


def test_a_wrong_password_is_refused_without_saying_which_part_was_wrong(web):
    client = web.client()

    form = {"username": "sam", "password": "nope-nope", "csrf_token": csrf_token(client)}
    response = client.post("/login", data=form)

    assert response.status_code == 401
    assert "Wrong username or password" in response.get_data(as_text=True)
    assert client.get("/account").status_code == 302


def test_repeated_failures_lock_the_username_for_a_while(web):
    client = web.client()
    token = csrf_token(client)
    for _ in range(10):
        client.post("/login", data={"username": "sam", "password": "bad-password", "csrf_token": token})

    response = client.post("/login", data={"username": "sam", "password": PASSWORD, "csrf_token": token})

    assert response.status_code == 429


def test_a_form_post_without_the_csrf_token_is_refused(web):
    client = web.client()

    response = client.post("/login", data={"username": "sam", "password": PASSWORD})

    assert response.status_code == 400
    assert "security token" in response.get_data(as_text=True)


def test_signing_out_needs_the_csrf_token_and_ends_the_session(web):
    client = web.client("supervisor")

    assert client.post("/logout").status_code == 400
    response = client.post("/logout", data={"csrf_token": csrf_token(client, "/account")})

    assert response.status_code == 302
    assert client.get("/account").status_code == 302


def test_after_sign_in_the_person_goes_back_to_the_page_they_asked_for_but_never_off_site(web):
    client = web.client()
    token = csrf_token(client)

    inside = client.post("/login", data={"username": "ada", "password": PASSWORD, "csrf_token": token,
                                         "next": "/account"})
    client.post("/logout", data={"csrf_token": csrf_token(client, "/account")})
    outside = client.post("/login", data={"username": "ada", "password": PASSWORD, "csrf_token": csrf_token(client),
                                          "next": "//evil.example/steal"})

    assert inside.headers["Location"] == "/account"
    assert "evil.example" not in outside.headers["Location"]


def test_an_api_token_signs_requests_without_a_cookie_or_csrf_token(web):
    with web.sessions()() as session, session.begin():
        issued = accounts.issue_token(session, accounts.get_user(session, ROLE_USERS["supervisor"]), "crm")
    client = web.app.test_client()

    response = client.get("/api/campaigns", headers={"Authorization": f"Bearer {issued.token}"})

    assert response.status_code == 200


def test_a_revoked_or_made_up_api_token_gets_a_json_401_naming_the_header(web):
    with web.sessions()() as session, session.begin():
        issued = accounts.issue_token(session, accounts.get_user(session, ROLE_USERS["supervisor"]))
        accounts.revoke_token(session, issued.record.id)
    client = web.app.test_client()

    for token in (issued.token, "dlr_made-up", "garbage"):
        response = client.get("/api/campaigns", headers={"Authorization": f"Bearer {token}"})
        assert response.status_code == 401
        assert response.get_json()["field"] == "Authorization"


def test_an_api_token_carries_its_users_role_and_no_more(web):
    with web.sessions()() as session, session.begin():
        issued = accounts.issue_token(session, accounts.get_user(session, ROLE_USERS["agent"]))

    response = web.app.test_client().get("/api/campaigns", headers={"Authorization": f"Bearer {issued.token}"})

    assert response.status_code == 403
    assert "agent" in response.get_json()["error"]


def test_a_disabled_user_can_no_longer_sign_in(web):
    with web.sessions()() as session, session.begin():
        accounts.get_user(session, "sam").active = False
    client = web.client()

    response = client.post("/login", data={"username": "sam", "password": PASSWORD, "csrf_token": csrf_token(client)})

    assert response.status_code == 401


def test_passwords_are_stored_hashed_and_short_ones_are_refused(session):
    user = accounts.create_user(session, "newbie", "long-enough-1", "agent")

    assert "long-enough-1" not in user.password_hash
    assert user.agent_login == "newbie"
    with pytest.raises(accounts.AccountError) as caught:
        accounts.create_user(session, "short", "abc", "agent")
    assert caught.value.field == "password"


def test_the_session_cookie_is_http_only_and_not_readable_by_other_sites(web):
    client = web.client()
    response = client.post("/login", data={"username": "sam", "password": PASSWORD, "csrf_token": csrf_token(client)})

    cookie = response.headers.get("Set-Cookie", "")
    assert "HttpOnly" in cookie
    assert "SameSite=Lax" in cookie


def test_sign_in_helper_matches_the_form(web):
    client = web.app.test_client()
    sign_in(client, "ada")

    assert client.get("/account").status_code == 200
