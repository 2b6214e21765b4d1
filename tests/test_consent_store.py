"""Consent records, revocation by any channel, and the reassigned-numbers check."""

from __future__ import annotations

import json
import os
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, insert

from campaigns import audit_store
from campaigns.consent_store import (
    ConsentError,
    ConsentStatus,
    FileReassignedNumbers,
    ReassignedAnswer,
    SqlConsentLookup,
    consent_for,
    parse_reassigned,
    record_consent,
    revoke_consent,
)
from campaigns.db import make_engine, make_session_factory, upgrade
from campaigns.models import Campaign
from compliance.gate import CampaignPolicy, DialTarget, default_gate

T0 = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)
PHONE = "+12015550123"
TEXT = "By signing, I agree that Acme may call me at this number using an autodialer."


@pytest.fixture
def db(tmp_path: Path) -> Engine:
    engine = make_engine(f"sqlite:///{tmp_path / 'consent.db'}")
    upgrade(engine)
    yield engine
    engine.dispose()


def give(db: Engine, at: datetime, **kwargs: object) -> int:
    args: dict[str, object] = {
        "source": "web_form",
        "obtained_at": at,
        "text_shown": TEXT,
        "recorded_by": "crm",
        "now": T0 + timedelta(days=30),
    }
    args.update(kwargs)
    with make_session_factory(db)() as s, s.begin():
        return record_consent(s, PHONE, **args).id  # type: ignore[arg-type]


def revoke(db: Engine, at: datetime, **kwargs: object) -> int:
    args: dict[str, object] = {"via": "keypress", "recorded_by": "ivr", "at": at, "now": T0 + timedelta(days=30)}
    args.update(kwargs)
    with make_session_factory(db)() as s, s.begin():
        return revoke_consent(s, PHONE, **args).id  # type: ignore[arg-type]


def state(db: Engine, at: datetime, **kwargs: object):
    with make_session_factory(db)() as s:
        return consent_for(s, PHONE, at, **kwargs)  # type: ignore[arg-type]


def test_a_number_with_no_record_has_no_consent(db):
    assert state(db, T0).status is ConsentStatus.NONE


def test_a_consent_counts_from_the_moment_it_was_given(db):
    consent_id = give(db, T0)

    before, after = state(db, T0 - timedelta(seconds=1)), state(db, T0)

    assert before.status is ConsentStatus.NONE
    assert (after.status, after.consent_at, after.consent_id, after.source) == (
        ConsentStatus.GRANTED,
        T0,
        consent_id,
        "web_form",
    )


def test_a_revocation_by_any_channel_blocks_the_next_dial_at_once(db):
    give(db, T0)
    lookup = SqlConsentLookup(db)  # the dial gate's view, another connection
    assert lookup.consent_for(PHONE, T0 + timedelta(days=2)).granted

    revocation_id = revoke(db, T0 + timedelta(days=1), via="sms", words="STOP")

    blocked = lookup.consent_for(PHONE, T0 + timedelta(days=2))
    assert (blocked.status, blocked.revoked_at, blocked.revocation_id, blocked.revoked_via) == (
        ConsentStatus.REVOKED,
        T0 + timedelta(days=1),
        revocation_id,
        "sms",
    )
    assert blocked.consent_at == T0
    assert lookup.consent_for(PHONE, T0 + timedelta(hours=12)).granted  # the state before the revocation


def test_a_consent_given_after_a_revocation_gives_consent_again(db):
    give(db, T0)
    revoke(db, T0 + timedelta(days=1))
    give(db, T0 + timedelta(days=5), source="paper")

    assert state(db, T0 + timedelta(days=3)).revoked
    again = state(db, T0 + timedelta(days=6))
    assert (again.status, again.source, again.consent_at) == (ConsentStatus.GRANTED, "paper", T0 + timedelta(days=5))


def test_a_consent_entered_late_with_an_earlier_date_does_not_undo_a_later_revocation(db):
    revoke(db, T0 + timedelta(days=2), via="agent")
    give(db, T0)  # recorded afterwards, dated before the revocation

    assert state(db, T0 + timedelta(days=3)).revoked


def test_a_revocation_on_file_without_any_consent_still_shows_as_revoked(db):
    revoke(db, T0, via="phone")

    result = state(db, T0 + timedelta(minutes=1))

    assert (result.status, result.consent_at, result.revoked_via) == (ConsentStatus.REVOKED, None, "phone")


def test_a_consent_and_a_revocation_at_the_same_instant_count_as_revoked(db):
    give(db, T0)
    revoke(db, T0)

    assert state(db, T0).revoked


def test_scopes_and_campaigns_narrow_a_consent_and_a_default_revocation_covers_everything(db):
    with db.begin() as conn:
        spring = conn.execute(
            insert(Campaign)
            .values(name="S", caller_id="+12125550100", drop_message="m", retry_delays_min=[1])
            .returning(Campaign.id)
        ).scalar_one()
    give(db, T0, scope="telemarketing", campaign_id=spring)

    assert state(db, T0, scope="telemarketing", campaign_id=spring).granted
    assert state(db, T0, scope="survey", campaign_id=spring).status is ConsentStatus.NONE
    assert state(db, T0, scope="telemarketing").status is ConsentStatus.NONE  # another campaign, or none
    revoke(db, T0 + timedelta(hours=1), scope="survey")
    assert state(db, T0 + timedelta(hours=2), scope="telemarketing", campaign_id=spring).granted
    revoke(db, T0 + timedelta(hours=3))
    assert state(db, T0 + timedelta(hours=4), scope="telemarketing", campaign_id=spring).revoked


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"text_shown": "  "}, "text the person was shown"),
        ({"source": "rumour"}, "unknown consent source"),
        ({"recorded_by": ""}, "who records"),
        ({"obtained_at": T0 + timedelta(days=31)}, "in the future"),
        ({"campaign_id": 42}, "no campaign has the id 42"),
    ],
)
def test_a_consent_without_its_text_or_source_or_author_or_with_a_future_date_is_refused(db, kwargs, message):
    with pytest.raises(ConsentError, match=message):
        give(db, T0, **kwargs)
    assert state(db, T0 + timedelta(days=40)).status is ConsentStatus.NONE


def test_consent_and_revocation_are_written_to_the_audit_trail(db):
    consent_id = give(db, T0)
    revoke(db, T0 + timedelta(days=1), via="email", words="please stop calling")

    with db.connect() as conn:
        records = list(audit_store.read_records(conn))
    assert [(r.kind, r.e164, r.chain) for r in records] == [
        ("consent_recorded", PHONE, "company"),
        ("consent_revoked", PHONE, "company"),
    ]
    payload = json.loads(records[0].payload)
    assert (payload["record_id"], payload["text_shown"], payload["at"]) == (
        consent_id,
        TEXT,
        "2026-03-02T15:00:00.000000Z",
    )
    assert audit_store.verify_trail(db).ok


# -- reassigned numbers ----------------------------------------------------------------------


def test_a_number_disconnected_on_or_after_the_consent_date_is_reassigned(tmp_path):
    path = tmp_path / "rnd.csv"
    path.write_text("number,disconnected_on\n+12015550123,2026-03-02\n2015550124,2026-03-01\n")
    rnd = FileReassignedNumbers(path)

    assert rnd.reassigned_since("+12015550123", T0) is ReassignedAnswer.YES  # same day: yes, as the RND answers
    assert rnd.reassigned_since("+12015550123", T0 + timedelta(days=1)) is ReassignedAnswer.NO
    assert rnd.reassigned_since("+12015550124", date(2026, 3, 2)) is ReassignedAnswer.NO
    assert rnd.reassigned_since("+12015550124", date(2026, 2, 1)) is ReassignedAnswer.YES
    assert rnd.reassigned_since("+12015550199", T0) is ReassignedAnswer.NO_DATA
    assert rnd.disconnected_since("+12015550199", date(2026, 3, 2)) is None
    assert rnd.disconnected_since("+12015550123", date(2026, 3, 2)) is True
    assert rnd.disconnected_since("+12015550123", date(2026, 3, 3)) is False
    assert rnd.last_disconnect("+12015550124") == date(2026, 3, 1)


def test_malformed_reassigned_lines_are_reported_by_line_and_never_become_numbers():
    text = (
        "number,disconnected_on\n"
        "+12015550123,2026-03-02\n"
        "# a comment\n"
        "\n"
        "201555012,2026-03-02\n"
        "+12015550124,yesterday\n"
        "+12015550125\n"
        "+12015550126,20260302\n"
        "+12015550123,2025-01-01\n"
    )

    dates, load = parse_reassigned(text)

    assert dates == {"+12015550123": date(2026, 3, 2)}  # the later date wins
    assert [(p.line, p.reason) for p in load.problems] == [
        (5, "bad_number"),
        (6, "bad_date"),
        (7, "wrong_columns"),
        (8, "bad_date"),
    ]
    assert (load.lines, load.numbers, load.malformed) == (9, 1, 4)


def test_the_reassigned_file_is_read_again_when_it_changes(tmp_path):
    path = tmp_path / "rnd.csv"
    path.write_text("+12015550123,2026-03-02\n")
    now = [0.0]
    rnd = FileReassignedNumbers(path, recheck_s=10, clock=lambda: now[0])
    assert rnd.reassigned_since("+12015550124", T0) is ReassignedAnswer.NO_DATA

    path.write_text("+12015550123,2026-03-02\n+12015550124,2026-03-05\n")
    os.utime(path, ns=(1, 1))
    assert rnd.reassigned_since("+12015550124", T0) is ReassignedAnswer.NO_DATA  # not checked again yet
    now[0] = 11.0

    assert rnd.reassigned_since("+12015550124", T0) is ReassignedAnswer.YES


# -- the stores behind the dial gate ------------------------------------------------------------


def test_the_consent_lookup_gives_the_gate_the_state_with_the_row_it_comes_from(db):
    with db.begin() as conn:
        spring = conn.execute(
            insert(Campaign)
            .values(name="S", caller_id="+12125550100", drop_message="m", retry_delays_min=[1], purpose="survey")
            .returning(Campaign.id)
        ).scalar_one()
    lookup = SqlConsentLookup(db)
    assert lookup.consent(PHONE, spring).state == "none"

    consent_id = give(db, T0, scope="survey")
    given = lookup.consent(PHONE, spring)
    give(db, T0, scope="telemarketing", source="paper")  # another purpose: not this campaign's consent
    revocation_id = revoke(db, T0 + timedelta(days=1), via="web")
    revoked = lookup.consent(PHONE, spring)

    assert (given.state, given.given_at, given.ref) == ("given", T0, f"consent_records:{consent_id}")
    assert (revoked.state, revoked.given_at, revoked.revoked_at, revoked.ref) == (
        "revoked",
        T0,
        T0 + timedelta(days=1),
        f"consent_records:{revocation_id}",
    )


def test_the_dial_gate_needs_consent_blocks_a_revocation_and_a_number_reassigned_since_the_consent(db, tmp_path):
    with db.begin() as conn:
        spring = conn.execute(
            insert(Campaign)
            .values(name="S", caller_id="+12125550100", drop_message="m", retry_delays_min=[1])
            .returning(Campaign.id)
        ).scalar_one()
    rnd = tmp_path / "rnd.csv"
    rnd.write_text("+12015550123,2026-03-10\n")
    gate = default_gate(consent=SqlConsentLookup(db), reassigned=FileReassignedNumbers(rnd))
    policy = CampaignPolicy(spring, requires_consent=True)
    at = T0 + timedelta(days=16)  # Wednesday 18 March, 11:00 in New Jersey

    def codes() -> tuple[str, ...]:
        return gate.can_dial(DialTarget(PHONE), policy, at).codes

    assert codes() == ("no_consent",)
    give(db, T0 + timedelta(days=10))  # after the disconnection: the new owner consented
    assert codes() == ()
    give(db, T0 + timedelta(days=11))
    revoke(db, T0 + timedelta(days=12), via="keypress")
    assert codes() == ("consent_revoked",)
    give(db, T0 + timedelta(days=13))
    rnd.write_text("+12015550123,2026-03-16\n")  # disconnected again after that consent
    os.utime(rnd, ns=(2, 2))
    fresh = default_gate(consent=SqlConsentLookup(db), reassigned=FileReassignedNumbers(rnd))
    assert fresh.can_dial(DialTarget(PHONE), policy, at).codes == ("reassigned_number",)


@pytest.mark.integration
def test_consent_and_revocation_work_on_postgresql(pg_url):
    engine = make_engine(pg_url)
    upgrade(engine)
    try:
        give(engine, T0)
        revoke(engine, T0 + timedelta(days=1), via="sms", words="STOP")
        lookup = SqlConsentLookup(engine)

        assert lookup.consent_for(PHONE, T0 + timedelta(hours=1)).granted
        assert lookup.consent_for(PHONE, T0 + timedelta(days=2)).revoked
        assert audit_store.verify_trail(engine).ok
    finally:
        engine.dispose()
