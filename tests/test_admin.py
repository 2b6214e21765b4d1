"""The administration page: accounts and API tokens through the same rules as the command line."""

from __future__ import annotations

from campaigns import accounts
from tests.web_support import csrf_token


def test_an_administrator_adds_a_user_who_can_then_sign_in(web):
    admin = web.client("admin")
    token = csrf_token(admin, "/admin/users")

    response = admin.post("/admin/users", data={"csrf_token": token, "username": "newagent", "display_name": "New",
                                                "role": "agent", "password": "long-password-1"})

    assert response.status_code == 302
    with web.sessions()() as session:
        user = accounts.get_user(session, "newagent")
        assert user is not None and user.role == "agent" and user.agent_login == "newagent"


def test_a_bad_new_user_is_refused_with_the_field_named_and_nothing_created(web):
    admin = web.client("admin")

    response = admin.post("/admin/users", data={"csrf_token": csrf_token(admin, "/admin/users"), "username": "x2",
                                                "role": "agent", "password": "short"})

    assert response.status_code == 400
    assert "at least 8 characters" in response.get_data(as_text=True)
    with web.sessions()() as session:
        assert accounts.get_user(session, "x2") is None


def test_an_issued_token_is_shown_once_and_works_until_revoked(web):
    admin = web.client("admin")
    with web.sessions()() as session:
        sam = accounts.get_user(session, "sam")
        assert sam is not None
        sam_id = sam.id

    page = admin.post(f"/admin/users/{sam_id}/tokens", data={"csrf_token": csrf_token(admin, "/admin/users"),
                                                              "name": "crm"}).get_data(as_text=True)
    token = page.split('data-test="new-token">')[1].split("<")[0]
    api = web.app.test_client()
    assert api.get("/api/campaigns", headers={"Authorization": f"Bearer {token}"}).status_code == 200
    with web.sessions()() as session:
        record = session.query(accounts.ApiToken).filter_by(user_id=sam_id).one()
    admin.post(f"/admin/tokens/{record.id}/revoke", data={"csrf_token": csrf_token(admin, "/admin/users")})

    assert api.get("/api/campaigns", headers={"Authorization": f"Bearer {token}"}).status_code == 401
    assert token not in admin.get("/admin/users").get_data(as_text=True)


def test_an_administrator_cannot_disable_their_own_account(web):
    admin = web.client("admin")
    with web.sessions()() as session:
        ada = accounts.get_user(session, "ada")
        assert ada is not None
        ada_id = ada.id

    response = admin.post(f"/admin/users/{ada_id}", data={"csrf_token": csrf_token(admin, "/admin/users"),
                                                           "action": "disable"})

    assert response.status_code == 400
    assert admin.get("/admin/users").status_code == 200


def test_a_disabled_users_api_tokens_stop_working(web):
    admin = web.client("admin")
    with web.sessions()() as session, session.begin():
        sam = accounts.get_user(session, "sam")
        assert sam is not None
        issued = accounts.issue_token(session, sam)
        sam_id = sam.id

    admin.post(f"/admin/users/{sam_id}", data={"csrf_token": csrf_token(admin, "/admin/users"), "action": "disable"})

    response = web.app.test_client().get("/api/campaigns", headers={"Authorization": f"Bearer {issued.token}"})
    assert response.status_code == 401
