"""The Twilio carrier sends Twilio exactly the requests the design calls for, and maps its errors for the engine.

The official library builds every request; a recording HTTP client stands
in for the network, so the tests see the method, path and form the library
would send to Twilio.
"""

from __future__ import annotations

import json
import logging
import threading
import uuid
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any, ClassVar
from urllib.parse import parse_qs, urlsplit

import pytest
from twilio.http import HttpClient
from twilio.http.response import Response
from twilio.rest import Client

from campaigns.carrier_factory import CarrierSettingsError, make_carrier
from campaigns.cps_bucket import CpsBucket
from campaigns.redis_conn import connect_redis
from campaigns.settings import Settings, SettingsError
from dialer.carrier import CarrierError, ConferenceControls, DialRequest
from dialer.carriers.twilio import LocalTwilioHttpClient, TwilioCarrier, make_client
from dialer.events import CarrierEvent, CarrierEventKind

ACCOUNT = "AC" + "a" * 32
TOKEN = "secret-token"
BASE = "https://dialer.example.com"
SID = "CA" + "1" * 32
CALLS = f"/2010-04-01/Accounts/{ACCOUNT}/Calls.json"


@dataclass
class Sent:
    method: str
    path: str
    query: dict[str, list[str]]
    form: dict[str, Any]


@dataclass
class RecordingHttp(HttpClient):
    """Answers every request with the next queued reply (default 201/200 with a call), and records it."""

    replies: list[tuple[int, dict[str, Any]]] = field(default_factory=list)
    sent: list[Sent] = field(default_factory=list)

    def __post_init__(self) -> None:
        super().__init__(logger=logging.getLogger(__name__), is_async=False)

    def request(self, method: str, uri: str, params: Any = None, data: Any = None, headers: Any = None,
                auth: Any = None, timeout: Any = None, allow_redirects: bool = False) -> Response:
        parts = urlsplit(uri)
        self.sent.append(Sent(method, parts.path, parse_qs(parts.query), dict(data or {})))
        if self.replies:
            status, body = self.replies.pop(0)
        else:
            status, body = (201 if method == "POST" and parts.path.endswith("Calls.json") else 200), {"sid": SID}
        return Response(status, json.dumps(body))


def error(status: int, code: int, message: str = "refused") -> tuple[int, dict[str, Any]]:
    return status, {"code": code, "message": message, "more_info": f"https://www.twilio.com/docs/errors/{code}",
                    "status": status}


@dataclass
class Sleeps:
    waits: list[float] = field(default_factory=list)

    def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)


def make(http: RecordingHttp, **options: Any) -> TwilioCarrier:
    options.setdefault("sleep", Sleeps())
    return TwilioCarrier(Client(ACCOUNT, TOKEN, http_client=http), campaign_id=7, public_base_url=BASE, **options)


def dial(call_id: str = "c7-42-1", *, amd: bool = True, ring: float = 25.0) -> DialRequest:
    return DialRequest(call_id, "+12015550123", "+12015550199", ring, amd)


def twiml_of(sent: Sent) -> ET.Element:
    return ET.fromstring(sent.form["Twiml"])


def test_placing_a_call_creates_it_with_every_webhook_async_amd_and_at_least_15_seconds_of_ring() -> None:
    http = RecordingHttp()
    carrier = make(http)

    sid = carrier.place_call(dial(ring=20.5))

    assert sid == SID
    [sent] = http.sent
    assert (sent.method, sent.path) == ("POST", CALLS)
    query = "campaign=7&call=c7-42-1"
    assert sent.form == {
        "To": "+12015550123",
        "From": "+12015550199",
        "Url": f"{BASE}/twilio/voice/customer?{query}",
        "Method": "POST",
        "StatusCallback": f"{BASE}/twilio/status?{query}",
        "StatusCallbackEvent": ["initiated", "ringing", "answered", "completed"],
        "StatusCallbackMethod": "POST",
        "Timeout": 21,
        "MachineDetection": "Enable",
        "AsyncAmd": "true",
        "AsyncAmdStatusCallback": f"{BASE}/twilio/amd?{query}",
        "AsyncAmdStatusCallbackMethod": "POST",
    }


def test_a_call_without_amd_asks_for_no_detection_and_a_short_ring_is_raised_to_15_seconds() -> None:
    http = RecordingHttp()
    make(http).place_call(dial(amd=False, ring=10))

    form = http.sent[0].form
    assert form["Timeout"] == 15
    assert not any(key.startswith(("MachineDetection", "AsyncAmd")) for key in form)


def test_a_campaign_that_records_asks_twilio_to_record_the_call() -> None:
    http = RecordingHttp()
    make(http, record=True).place_call(dial())

    assert http.sent[0].form["Record"] == "true"


def test_connecting_redirects_the_live_call_into_the_agents_conference_room() -> None:
    http = RecordingHttp()
    carrier = make(http)
    carrier.place_call(dial())

    carrier.connect(SID, "5")

    sent = http.sent[-1]
    assert (sent.method, sent.path) == ("POST", f"/2010-04-01/Accounts/{ACCOUNT}/Calls/{SID}.json")
    assert set(sent.form) == {"Twiml"}
    room = twiml_of(sent).find("Dial/Conference")
    assert room is not None
    assert room.text == "agent-5"
    assert room.attrib == {
        "statusCallback": f"{BASE}/twilio/conference?campaign=7&call=c7-42-1",
        "statusCallbackEvent": "join leave",
        "statusCallbackMethod": "POST",
        "startConferenceOnEnter": "true",
        "endConferenceOnExit": "false",
        "beep": "false",
    }


def test_the_drop_message_is_spoken_inside_a_one_key_opt_out_gather_and_the_call_hung_up() -> None:
    http = RecordingHttp()
    carrier = make(http)
    carrier.place_call(dial())

    carrier.play_and_hangup(SID, "This is Acme. Press 9 to opt out.")

    document = twiml_of(http.sent[-1])
    assert [child.tag for child in document] == ["Gather", "Hangup"]
    gather = document[0]
    assert gather.attrib["numDigits"] == "1"
    assert gather.attrib["timeout"] == "5"
    assert gather.attrib["action"] == f"{BASE}/twilio/optout?campaign=7&call=c7-42-1"
    assert [(child.tag, child.text) for child in gather] == [("Say", "This is Acme. Press 9 to opt out.")]


def test_a_message_given_as_an_https_url_is_played_not_spoken() -> None:
    http = RecordingHttp()
    make(http).play_and_hangup(SID, "https://cdn.example.com/drop.mp3")

    gather = twiml_of(http.sent[-1])[0]
    assert [(child.tag, child.text) for child in gather] == [("Play", "https://cdn.example.com/drop.mp3")]


def test_hanging_up_completes_an_answered_call_and_cancels_one_still_ringing() -> None:
    http = RecordingHttp()
    carrier = make(http)
    ringing = carrier.place_call(dial())
    carrier.observe(CarrierEvent(ringing, CarrierEventKind.RINGING, 1.0, 1))
    carrier.hangup(ringing)
    assert http.sent[-1].form == {"Status": "canceled"}

    carrier.observe(CarrierEvent(ringing, CarrierEventKind.ANSWERED, 2.0, 2))
    carrier.hangup(ringing)
    assert http.sent[-1].form == {"Status": "completed"}

    carrier.hangup("CA" + "9" * 32)  # a call the carrier heard nothing about: completed ends any state
    assert http.sent[-1].form == {"Status": "completed"}


@pytest.mark.parametrize("code", [21211, 21214, 21217, 13224])
def test_an_invalid_number_is_a_permanent_error(code: int) -> None:
    http = RecordingHttp(replies=[error(400, code)])

    with pytest.raises(CarrierError) as raised:
        make(http).place_call(dial())

    assert raised.value.permanent
    assert str(code) in str(raised.value)


def test_a_rate_limited_request_is_retried_with_growing_back_off_until_it_passes() -> None:
    sleeps = Sleeps()
    http = RecordingHttp(replies=[error(429, 20429), error(429, 20429)])

    sid = make(http, sleep=sleeps, backoff_s=0.25).place_call(dial())

    assert sid == SID
    assert len(http.sent) == 3
    assert sleeps.waits == [0.25, 0.5]


def test_rate_limiting_that_persists_becomes_an_error_that_says_when_to_retry() -> None:
    sleeps = Sleeps()
    http = RecordingHttp(replies=[error(429, 20429)] * 4)

    with pytest.raises(CarrierError) as raised:
        make(http, sleep=sleeps, backoff_s=0.25, max_retries=3).place_call(dial())

    assert not raised.value.permanent
    assert raised.value.retry_after_s == 2.0
    assert len(http.sent) == 4


def test_updating_a_call_that_already_ended_is_not_an_error() -> None:
    http = RecordingHttp(replies=[error(400, 21220, "Call is not in-progress. Cannot redirect.")] * 3)
    carrier = make(http)

    carrier.connect(SID, "5")
    carrier.play_and_hangup(SID, "bye")
    carrier.hangup(SID)

    assert len(http.sent) == 3


def test_other_update_errors_reach_the_engine_as_carrier_errors() -> None:
    http = RecordingHttp(replies=[error(500, 20500, "internal")])

    with pytest.raises(CarrierError) as raised:
        make(http).connect(SID, "5")

    assert not raised.value.permanent


def test_network_trouble_is_a_carrier_error_not_a_crash_of_the_engine_loop() -> None:
    class Down(RecordingHttp):
        def request(self, *args: Any, **kwargs: Any) -> Response:
            raise ConnectionError("connection refused")

    with pytest.raises(CarrierError):
        make(Down()).hangup(SID)


def test_a_call_without_a_calls_per_second_token_is_not_placed_and_says_when_to_retry() -> None:
    redis = connect_redis(f"memory://cps-carrier-{uuid.uuid4().hex}")
    bucket = CpsBucket(redis, rate=1.0, name="acct")
    http = RecordingHttp()
    carrier = make(http, tokens=bucket, token_wait_s=0.0)

    carrier.place_call(dial("c7-1-1"))
    with pytest.raises(CarrierError) as raised:
        carrier.place_call(dial("c7-2-1"))

    assert carrier.cps_limit == 1.0
    assert len(http.sent) == 1
    assert raised.value.retry_after_s is not None
    assert 0 < raised.value.retry_after_s <= 1.0
    assert not raised.value.permanent


def test_supervisor_operations_add_participants_to_the_agents_room() -> None:
    http = RecordingHttp(replies=[(201, {"call_sid": "CA" + "2" * 32})] * 4)
    carrier = make(http)
    controls: ConferenceControls = carrier

    coach = controls.whisper("5", "client:sup1", "CA" + "3" * 32, caller_id="+12015550199")
    controls.listen("5", "+12015550111", caller_id="+12015550199")
    controls.barge("5", "+12015550111", caller_id="+12015550199")

    assert coach == "CA" + "2" * 32
    whisper, listen, barge = http.sent
    assert whisper.path == f"/2010-04-01/Accounts/{ACCOUNT}/Conferences/agent-5/Participants.json"
    assert whisper.form["Coaching"] == "true"
    assert whisper.form["CallSidToCoach"] == "CA" + "3" * 32
    assert whisper.form["To"] == "client:sup1"
    assert whisper.form["EarlyMedia"] == "false"
    assert whisper.form["EndConferenceOnExit"] == "false"
    assert listen.form["Muted"] == "true"
    assert barge.form["Muted"] == "false"


def test_a_cold_transfer_moves_the_customer_into_the_other_agents_room() -> None:
    http = RecordingHttp()
    make(http).transfer(SID, "9")

    room = twiml_of(http.sent[-1]).find("Dial/Conference")
    assert room is not None and room.text == "agent-9"


class _FakeApi(BaseHTTPRequestHandler):
    seen: ClassVar[list[tuple[str, str, dict[str, list[str]]]]] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"])).decode()
        self.seen.append((self.command, self.path, parse_qs(body)))
        payload = json.dumps({"sid": SID, "status": "queued"}).encode()
        self.send_response(201)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def fake_api() -> Iterator[str]:
    server = HTTPServer(("127.0.0.1", 0), _FakeApi)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    _FakeApi.seen = []
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_a_twilio_api_url_sends_the_librarys_requests_to_that_stand_in_ignoring_proxies(
    fake_api: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HTTP_PROXY", "http://127.0.0.1:9")  # would swallow the request if honoured
    client = make_client(ACCOUNT, TOKEN, fake_api)
    assert isinstance(client.http_client, LocalTwilioHttpClient)
    carrier = TwilioCarrier(client, campaign_id=7, public_base_url=BASE)

    assert carrier.place_call(dial()) == SID

    [(method, path, form)] = _FakeApi.seen
    assert (method, path) == ("POST", CALLS)
    assert form["StatusCallbackEvent"] == ["initiated", "ringing", "answered", "completed"]


def settings(**env: str) -> Settings:
    base = {
        "DIALER_CARRIER": "twilio",
        "TWILIO_ACCOUNT_SID": ACCOUNT,
        "TWILIO_AUTH_TOKEN": TOKEN,
        "PUBLIC_BASE_URL": BASE,
    }
    return Settings.from_env({**base, **env})


def test_the_factory_builds_a_twilio_carrier_with_the_accounts_shared_cps_from_the_settings() -> None:
    redis = connect_redis(f"memory://factory-{uuid.uuid4().hex}")
    http = RecordingHttp()

    carrier = make_carrier(settings(TWILIO_CPS="3"), 7, redis, client=Client(ACCOUNT, TOKEN, http_client=http))
    carrier.place_call(dial())

    assert carrier.cps_limit == 3.0
    assert http.sent[0].form["Url"].startswith(f"{BASE}/twilio/voice/customer?campaign=7")


def test_the_factory_refuses_to_build_a_real_carrier_for_the_simulated_setting() -> None:
    with pytest.raises(CarrierSettingsError):
        make_carrier(Settings(), 7, connect_redis("memory://factory-sim"))


def test_the_dialer_process_finds_a_factory_by_name_that_builds_one_carrier_per_campaign() -> None:
    from campaigns.models import Campaign
    from dialer.carriers import twilio

    build = twilio.carrier_factory(settings(REDIS_URL=f"memory://factory-{uuid.uuid4().hex}"))
    carrier = build(Campaign(id=12, name="X", caller_id="+12015550199", drop_message="m"))

    assert carrier.campaign_id == 12
    assert carrier.cps_limit == 1.0
    assert carrier.record is False
    taped = build(Campaign(id=13, name="Y", caller_id="+12015550199", drop_message="m", record_calls=True))
    assert taped.record is True


def test_bad_settings_stop_the_factory_at_start() -> None:
    from dialer.carriers import twilio

    with pytest.raises(CarrierSettingsError):
        twilio.carrier_factory(Settings())


def test_the_cps_and_proxy_settings_are_read_and_checked() -> None:
    assert settings().twilio_cps == 1.0 and settings().trust_proxy_headers is False
    assert settings(TWILIO_CPS="2.5", TRUST_PROXY_HEADERS="true").twilio_cps == 2.5
    assert settings(TRUST_PROXY_HEADERS="yes").trust_proxy_headers is True
    with pytest.raises(SettingsError, match="TWILIO_CPS"):
        settings(TWILIO_CPS="0")
    with pytest.raises(SettingsError, match="TRUST_PROXY_HEADERS"):
        settings(TRUST_PROXY_HEADERS="maybe")
