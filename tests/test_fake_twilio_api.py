"""The stand-in's REST API, driven by the official twilio library and checked against Twilio's spec."""

from __future__ import annotations

import base64
import itertools
import json
import urllib.error
import urllib.request
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from twilio.base.exceptions import TwilioRestException
from twilio.http.response import Response
from twilio.rest import Client

from dialer.carriers.twilio_local import LocalTwilioHttpClient
from tests.test_fake_twilio_support import (
    ACCOUNT_SID,
    AUTH_TOKEN,
    BUSY,
    CALLER_ID,
    CUSTOMER,
    MACHINES,
    NOBODY,
    SpecChecker,
    client_for,
    fake_call,
    load_spec,
    receiver,
    stand_in,
    wait_for,
    wait_until_ended,
)

HOLD = "<Response><Pause length='30'/></Response>"


class RecordingHttpClient(LocalTwilioHttpClient):
    """Keeps every request the library sends and the stand-in's answer, for the spec checks."""

    def __init__(self, base_url: str) -> None:
        super().__init__(base_url)
        self.exchanges: list[tuple[str, str, dict[str, list[str]], Response]] = []

    def request(self, method: str, url: str, *args: Any, **kwargs: Any) -> Response:
        response = super().request(method, url, *args, **kwargs)
        data = kwargs.get("data") or {}
        form = {k: [str(x) for x in (v if isinstance(v, list) else [v])] for k, v in data.items() if v is not None}
        self.exchanges.append((method, urlsplit(url).path, form, response))
        return response


@pytest.fixture(scope="module")
def spec() -> SpecChecker:
    return SpecChecker(load_spec())


def test_the_twilio_library_creates_fetches_lists_and_hangs_up_a_call():
    with stand_in() as server:
        client = client_for(server)

        created = client.calls.create(to=CUSTOMER, from_=CALLER_ID, twiml=HOLD, timeout=20)
        fetched = wait_for(lambda: (c := client.calls(created.sid).fetch()).status == "in-progress" and c,
                           what="the call to be answered")
        listed = client.calls.list(to=CUSTOMER)
        hung_up = client.calls(created.sid).update(status="completed")

    assert created.sid.startswith("CA") and len(created.sid) == 34
    assert created.status == "queued" and created.direction == "outbound-api"
    assert created.to == CUSTOMER and created._from == CALLER_ID and created.account_sid == ACCOUNT_SID
    assert created.start_time is None and created.duration is None
    assert fetched.start_time is not None and fetched.start_time.tzinfo is not None
    assert [c.sid for c in listed] == [created.sid]
    assert hung_up.status == "completed" and hung_up.end_time is not None and hung_up.duration is not None


def test_a_call_updated_with_new_twiml_runs_it_at_once():
    with stand_in() as server:
        client = client_for(server)
        call = client.calls.create(to=CUSTOMER, from_=CALLER_ID, twiml=HOLD)
        wait_for(lambda: client.calls(call.sid).fetch().status == "in-progress", what="the answer")

        client.calls(call.sid).update(twiml="<Response><Say>Goodbye now</Say><Hangup/></Response>")
        record = wait_until_ended(server, call.sid)

    assert record["said"] == ["Goodbye now"]
    assert record["end_reason"] == "hangup-verb"
    assert any(event["event"] == "api-redirect" for event in record["timeline"])


def test_every_request_accepted_and_every_resource_returned_matches_twilios_spec(spec):
    with stand_in() as server, receiver({"/voice": HOLD}) as app:
        http = RecordingHttpClient(server.base_url)
        client = Client(ACCOUNT_SID, AUTH_TOKEN, http_client=http)
        call = client.calls.create(
            to=CUSTOMER,
            from_=CALLER_ID,
            url=app.base_url + "/voice",
            method="POST",
            status_callback=app.base_url + "/status",
            status_callback_event=["initiated", "ringing", "answered", "completed"],
            status_callback_method="POST",
            timeout=25,
            machine_detection="Enable",
            machine_detection_timeout=10,
            async_amd="true",
            async_amd_status_callback=app.base_url + "/amd",
            async_amd_status_callback_method="POST",
            record=False,
        )
        inline = client.calls.create(to="client:agent7", from_=CALLER_ID, twiml=HOLD)
        wait_for(lambda: client.calls(call.sid).fetch().status == "in-progress", what="the answer")
        client.calls(call.sid).update(url=app.base_url + "/voice", method="POST")
        client.calls(call.sid).update(twiml=HOLD)
        client.calls(call.sid).update(status="completed")
        client.calls(inline.sid).update(status="completed")
        client.calls.list()

    assert len(http.exchanges) >= 8
    for method, path, form, response in http.exchanges:
        assert 200 <= response.status_code < 300, (method, path, response.text)
        if method == "POST":
            assert spec.request_problems(path, method, form) == [], path
        schema = spec.response_schema(path, method, response.status_code)
        body = json.loads(response.text)
        assert spec.value_problems(schema, body, path) == []
        if path.endswith("Calls.json") and method == "GET":
            continue
        assert set(body) == set(schema["properties"]), path  # exactly the schema's fields


def test_the_spec_checks_catch_a_wrong_type_an_unknown_field_and_an_unknown_parameter(spec):
    path = f"/2010-04-01/Accounts/{ACCOUNT_SID}/Calls/CA{'0' * 32}.json"
    schema = spec.response_schema(path, "GET", 200)

    assert spec.value_problems(schema, {"duration": 12, "status": "queued"}) == [".duration: 12 is not a string"]
    assert spec.value_problems(schema, {"status": "initiated"}) != []
    assert spec.value_problems(schema, {"colour": "red"}) == [".colour: not in the schema"]
    assert spec.request_problems(path, "POST", {"Status": ["completed"], "Colour": ["red"]}) == [
        "Colour: not a parameter of UpdateCall"
    ]
    assert spec.request_problems(path, "POST", {"Status": ["answered"]}) != []


def test_a_fresh_call_looks_like_twilios_with_rfc_2822_dates_and_string_durations():
    with stand_in(NOBODY) as server:
        call = client_for(server).calls.create(to=CUSTOMER, from_=CALLER_ID, twiml=HOLD, timeout=15)
        raw = _api(server, "GET", f"/Calls/{call.sid}.json")[1]
        ended = wait_until_ended(server, call.sid)
        final = _api(server, "GET", f"/Calls/{call.sid}.json")[1]

    assert raw["status"] in ("queued", "ringing")
    assert raw["date_created"].endswith("+0000") and raw["date_created"][3:5] == ", "
    assert raw["uri"] == f"/2010-04-01/Accounts/{ACCOUNT_SID}/Calls/{call.sid}.json"
    assert raw["subresource_uris"]["recordings"].endswith(f"/Calls/{call.sid}/Recordings.json")
    assert raw["to_formatted"] == "(202) 555-0142"
    assert ended["status"] == "no-answer" and final["status"] == "no-answer"
    assert final["duration"] == "0" and isinstance(final["queue_time"], str)


def test_busy_and_machine_answers_end_the_way_the_scenario_says():
    with stand_in(BUSY) as server:
        busy = client_for(server).calls.create(to=CUSTOMER, from_=CALLER_ID, twiml=HOLD)
        busy_record = wait_until_ended(server, busy.sid)
    with stand_in(MACHINES, machine_hangup_s=20.0) as server:
        machine = client_for(server).calls.create(to=CUSTOMER, from_=CALLER_ID, twiml=HOLD)
        machine_record = wait_until_ended(server, machine.sid)

    assert busy_record["status"] == "busy" and busy_record["answered_at"] is None
    assert machine_record["status"] == "completed" and machine_record["end_reason"] == "machine-done"
    assert machine_record["ended_at"] - machine_record["answered_at"] == pytest.approx(20.0, abs=2.0)


# ---------------------------------------------------------------------- errors
def _api(server, method: str, path: str, form: dict[str, str] | None = None, *, auth: tuple[str, str] | None = None):
    credentials = auth or (ACCOUNT_SID, AUTH_TOKEN)
    url = f"{server.base_url}/2010-04-01/Accounts/{credentials[0]}{path}"
    data = None if form is None else "&".join(f"{k}={urllib.request.quote(v)}" for k, v in form.items()).encode()
    request = urllib.request.Request(url, data=data, method=method)
    token = base64.b64encode(f"{credentials[0]}:{credentials[1]}".encode()).decode()
    request.add_header("Authorization", f"Basic {token}")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.load(response)
    except urllib.error.HTTPError as error:
        return error.code, json.load(error)


def test_wrong_credentials_get_401_with_twilios_error_20003():
    with stand_in() as server:
        status, body = _api(server, "GET", "/Calls.json", auth=(ACCOUNT_SID, "wrong"))
        other_status, _ = _api(server, "GET", "/Calls.json", auth=("AC" + "f" * 32, AUTH_TOKEN))
        with pytest.raises(TwilioRestException) as caught:
            wrong = Client(ACCOUNT_SID, "wrong", http_client=LocalTwilioHttpClient(server.base_url))
            wrong.calls.create(to=CUSTOMER, from_=CALLER_ID, twiml=HOLD)

    assert status == 401 and other_status == 401
    assert body == {
        "code": 20003,
        "message": "Authenticate",
        "more_info": "https://www.twilio.com/docs/errors/20003",
        "status": 401,
    }
    assert caught.value.status == 401 and caught.value.code == 20003


@pytest.mark.parametrize(
    ("to", "from_", "code"),
    [
        ("+1202555", CALLER_ID, 21211),
        ("+10025550142", CALLER_ID, 21211),
        ("not a number", CALLER_ID, 21211),
        (CUSTOMER, "12345", 21212),
        (CUSTOMER, "client:bob", 21212),
    ],
)
def test_an_invalid_number_is_refused_with_twilios_code(to, from_, code):
    with stand_in() as server, pytest.raises(TwilioRestException) as caught:
        client_for(server).calls.create(to=to, from_=from_, twiml=HOLD)

    assert caught.value.status == 400 and caught.value.code == code


def test_a_caller_id_the_account_does_not_own_is_refused_with_21210():
    with stand_in(caller_ids=(CALLER_ID,)) as server:
        client = client_for(server)
        accepted = client.calls.create(to=CUSTOMER, from_=CALLER_ID, twiml=HOLD)
        with pytest.raises(TwilioRestException) as caught:
            client.calls.create(to=CUSTOMER, from_="+12015550999", twiml=HOLD)

    assert accepted.status == "queued"
    assert caught.value.code == 21210 and "+12015550999" in caught.value.msg


def test_a_call_without_url_or_twiml_is_refused_with_21205():
    with stand_in() as server:
        status, body = _api(server, "POST", "/Calls.json", {"To": CUSTOMER, "From": CALLER_ID})
        bad_url_status, bad_url = _api(server, "POST", "/Calls.json", {"To": CUSTOMER, "From": CALLER_ID, "Url": "/x"})

    assert (status, body["code"]) == (400, 21205) and "Url parameter is required" in body["message"]
    assert (bad_url_status, bad_url["code"]) == (400, 21205)


def test_a_ring_timeout_outside_one_to_six_hundred_seconds_is_clamped():
    with stand_in(NOBODY, speed=200.0) as server:
        client = client_for(server)
        short = client.calls.create(to=CUSTOMER, from_=CALLER_ID, twiml=HOLD, timeout=0)
        long = client.calls.create(to=CUSTOMER, from_=CALLER_ID, twiml=HOLD, timeout=5000)
        short_record = wait_until_ended(server, short.sid)
        status, _ = _api(server, "POST", f"/Calls/{long.sid}.json", {"Status": "canceled"})
        long_record = wait_until_ended(server, long.sid)

    rang = short_record["ended_at"] - short_record["ringing_at"]
    assert short_record["status"] == "no-answer" and rang == pytest.approx(1.0, abs=0.5)
    assert status == 200 and long_record["status"] == "canceled"


def test_updating_a_call_that_is_over_fails_with_21220():
    with stand_in() as server:
        client = client_for(server)
        call = client.calls.create(to=CUSTOMER, from_=CALLER_ID, twiml=HOLD)
        client.calls(call.sid).update(status="completed")
        with pytest.raises(TwilioRestException) as caught:
            client.calls(call.sid).update(twiml=HOLD)

    assert caught.value.status == 400 and caught.value.code == 21220
    assert "Call is not in-progress. Cannot redirect." in caught.value.msg


def test_an_unknown_call_is_404_with_20404():
    with stand_in() as server, pytest.raises(TwilioRestException) as caught:
        client_for(server).calls("CA" + "0" * 32).fetch()

    assert caught.value.status == 404 and caught.value.code == 20404


def test_a_full_calls_queue_answers_429_with_20429():
    with stand_in(cps=0.01, max_queue=2) as server:
        client = client_for(server)
        first = client.calls.create(to=CUSTOMER, from_=CALLER_ID, twiml=HOLD)
        waiting = [client.calls.create(to=CUSTOMER, from_=CALLER_ID, twiml=HOLD) for _ in range(2)]
        with pytest.raises(TwilioRestException) as caught:
            client.calls.create(to=CUSTOMER, from_=CALLER_ID, twiml=HOLD)

    assert first.sid and len(waiting) == 2
    assert caught.value.status == 429 and caught.value.code == 20429


def test_calls_beyond_the_cps_limit_are_queued_and_started_in_order_one_interval_apart():
    with stand_in(cps=2.0, speed=2.0) as server:  # slow enough that the four creates beat the first slot
        client = client_for(server)
        calls = [client.calls.create(to=CUSTOMER, from_=CALLER_ID, twiml=HOLD) for _ in range(4)]
        records = [wait_for(lambda s=c.sid: (r := fake_call(server, s))["started_at"] is not None and r,
                            what="the start") for c in calls]

    starts = [r["started_at"] for r in records]
    assert starts == sorted(starts)
    gaps = [b - a for a, b in itertools.pairwise(starts)]
    assert all(gap == pytest.approx(0.5, abs=0.1) for gap in gaps), gaps
    assert [int(c.queue_time) for c in calls][-1] >= 1000  # the fourth waits about 1.5 s


def test_statuscallbackevent_sent_as_repeated_keys_is_read_as_a_list():
    with stand_in() as server, receiver() as app:
        form = "&".join(
            [f"To={urllib.request.quote(CUSTOMER)}", f"From={urllib.request.quote(CALLER_ID)}",
             f"Twiml={urllib.request.quote('<Response><Hangup/></Response>')}",
             f"StatusCallback={urllib.request.quote(app.base_url + '/status')}",
             "StatusCallbackEvent=ringing", "StatusCallbackEvent=completed"]
        )
        request = urllib.request.Request(
            f"{server.base_url}/2010-04-01/Accounts/{ACCOUNT_SID}/Calls.json", data=form.encode(), method="POST"
        )
        token = base64.b64encode(f"{ACCOUNT_SID}:{AUTH_TOKEN}".encode()).decode()
        request.add_header("Authorization", f"Basic {token}")
        with urllib.request.urlopen(request, timeout=10) as response:
            sid = json.load(response)["sid"]
        hooks = app.wait("/status", 2)

    assert [h.params["CallStatus"] for h in hooks] == ["ringing", "completed"]
    assert all(h.params["CallSid"] == sid for h in hooks)
    assert parse_qs(form)["StatusCallbackEvent"] == ["ringing", "completed"]
