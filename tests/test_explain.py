"""``dialer compliance explain``: the gate's decision for officers and scripts, one request or a batch."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from campaigns.cli import main
from campaigns.commands import compliance as command
from compliance.explain import Explainer, RequestError, explain, parse_request
from compliance.ruleset import RULESET_VERSION


def run(*args: str, stdin: str | None = None) -> Result:
    return CliRunner().invoke(main, ["compliance", "explain", *args], input=stdin, catch_exceptions=False)


# --- the pure function -----------------------------------------------------------------------------


def test_explain_gives_the_decision_with_reasons_citations_and_the_next_allowed_time() -> None:
    out = explain({"phone": "+12055550100", "at": "2026-06-14T15:00:00Z"})  # Sunday 10:00 in Alabama
    assert out["allowed"] is False
    assert out["reasons"] == [{
        "code": "sunday_ban", "rule": "us-al.hours",
        "detail": "allowed Mon-Sat 08:00-20:00, Sun no calls local time; it is Sun 10:00 in America/Chicago",
        "cite": "Ala. Admin. Code r. 770-X-5-.17(2)", "conf": "M",
    }]
    assert out["next_allowed_at"] == "2026-06-15T13:00:00+00:00"
    assert out["ruleset_version"] == RULESET_VERSION
    assert out["zones"] == [{"zone": "America/Chicago", "local": "2026-06-14T10:00:00-05:00"}]
    assert out["jurisdictions"] == ["US", "US-AL"]
    assert {"rule": "us.fcc.hours", "passed": True, "code": "ok"} in out["checked"]
    assert json.loads(json.dumps(out)) == out


def test_explain_counts_the_history_given_with_the_request() -> None:
    request = {"phone": "+13055550100", "at": "2026-06-15T18:00:00Z", "history": [
        {"at": "2026-06-14T19:00:00Z", "outcome": "no-answer"},
        {"at": "2026-06-15T13:00:00Z", "outcome": "machine"},
        {"at": "2026-06-15T15:00:00Z", "outcome": "human"},
    ]}
    out = explain(request)
    assert [r["code"] for r in out["reasons"]] == ["frequency_cap"]
    assert out["next_allowed_at"] == "2026-06-15T19:00:00+00:00"
    assert explain({**request, "history": request["history"][1:]})["allowed"] is True


def test_explain_takes_the_state_postal_code_purpose_window_and_stated_zone() -> None:
    out = explain({"phone": "+18005550100", "at": "2026-06-15T12:30:00Z", "state": "ny",
                   "purpose": "survey", "window": "09:00-20:00"})
    assert [r["rule"] for r in out["reasons"]] == ["hours.campaign_window"]  # 08:30 in New York
    assert out["next_allowed_at"] == "2026-06-15T13:00:00+00:00"
    stated = explain({"phone": "+18005550100", "at": "2026-06-15T16:00:00Z", "timezone": "America/Denver"})
    assert stated["allowed"] is True
    assert [z["zone"] for z in stated["zones"]] == ["America/Denver"]


@pytest.mark.parametrize(
    ("request_data", "message"),
    [
        ({"at": "2026-06-15T12:00:00Z"}, "phone is required"),
        ({"phone": "2125550100", "at": "2026-06-15T12:00:00Z"}, "not E.164"),
        ({"phone": "+12125550100"}, "at is required"),
        ({"phone": "+12125550100", "at": "2026-06-15 12:00"}, "no UTC offset"),
        ({"phone": "+12125550100", "at": "tomorrow"}, "not an ISO 8601 time"),
        ({"phone": "+12125550100", "at": "2026-06-15T12:00:00Z", "purpose": "sales"}, "purpose 'sales'"),
        ({"phone": "+12125550100", "at": "2026-06-15T12:00:00Z", "window": "9-5"}, "window"),
        ({"phone": "+12125550100", "at": "2026-06-15T12:00:00Z", "state": "XX"}, "unknown state"),
        ({"phone": "+12125550100", "at": "2026-06-15T12:00:00Z", "postal_code": "ABC"}, "postal code"),
        ({"phone": "+12125550100", "at": "2026-06-15T12:00:00Z", "history": "lots"}, "history"),
        ({"phone": "+12125550100", "at": "2026-06-15T12:00:00Z", "history": [{"at": "x"}]}, "history"),
        ({"phone": "+12125550100", "at": "2026-06-15T12:00:00Z", "timezone": 5}, "timezone"),
        ({"phone": "+12125550100", "at": "2026-06-15T12:00:00Z", "phnoe": "+1"}, "unknown key 'phnoe'"),
        ({"phone": 12125550100, "at": "2026-06-15T12:00:00Z"}, "phone must be a string"),
        ([1, 2], "JSON object"),
    ],
)
def test_a_bad_request_is_refused_naming_what_is_wrong(request_data: object, message: str) -> None:
    with pytest.raises(RequestError, match=message):
        parse_request(request_data)


def test_a_batch_line_that_is_bad_becomes_an_error_object_naming_the_line() -> None:
    explainer = Explainer()
    assert explainer.explain_line("{not json", 7) == {"line": 7, "error": "not JSON: Expecting property name "
                                                                         "enclosed in double quotes at column 2"}
    assert explainer.explain_line('{"phone": "+1212"}', 8)["error"].startswith("phone ")
    too_late = explainer.explain_line('{"phone": "+12125550100", "at": "9999-12-31T23:59:59-12:00"}', 9)
    assert too_late["line"] == 9 and too_late["error"].startswith("cannot judge this request")


# --- the command -------------------------------------------------------------------------------------


def test_the_command_prints_the_decision_as_json() -> None:
    result = run("--phone", "+18504345555", "--at", "2026-06-16T01:30:00Z", "--json")
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    assert out["allowed"] is False
    assert [r["rule"] for r in out["reasons"]] == ["us-fl.hours.v2021"]
    assert out["next_allowed_at"] == "2026-06-16T13:00:00+00:00"


def test_the_command_prints_a_readable_decision_without_json() -> None:
    result = run("--phone", "+14236005555", "--at", "2026-06-14T13:30:00Z", "--state", "AL")
    assert result.exit_code == 0, result.output
    assert result.output.startswith("BLOCKED: +14236005555")
    assert "sunday_ban" in result.output and "Ala. Admin. Code" in result.output
    assert "not listed in split area code 423" in result.output
    assert "next allowed: 2026-06-15T13:00:00+00:00" in result.output


@pytest.mark.parametrize(
    ("content", "name"),
    [
        ('[{"at": "2026-06-15T02:00:00Z", "outcome": "abandoned"}]', "history.json"),
        ("at,outcome\n2026-06-15T02:00:00Z,abandoned\n", "history.csv"),
    ],
)
def test_the_command_reads_the_history_file(tmp_path: Path, content: str, name: str) -> None:
    history = tmp_path / name
    history.write_text(content)
    result = run("--phone", "+442079460000", "--at", "2026-06-16T10:00:00Z", "--history", str(history), "--json")
    out = json.loads(result.stdout)
    assert [r["code"] for r in out["reasons"]] == ["abandon_lockout"]
    # the lockout ends 72 h after the abandoned call, at 03:00 BST; the first hour open after it is 08:00 BST
    assert out["next_allowed_at"] == "2026-06-18T07:00:00+00:00"
    assert [r["code"] for r in json.loads(run("--phone", "+442079460000", "--at", "2026-06-16T10:00:00Z",
                                              "--json").stdout)["reasons"]] == []


def test_the_command_reports_a_bad_history_file_or_request_in_one_line() -> None:
    result = run("--phone", "+12125550100", "--at", "2026-06-16T10:00:00", "--json")
    assert result.exit_code == 1 and "no UTC offset" in result.output
    missing = run("--phone", "+12125550100", "--at", "2026-06-16T10:00:00Z", "--history", "/nonexistent.json")
    assert missing.exit_code == 1 and "nonexistent" in missing.output
    assert run("--at", "2026-06-16T10:00:00Z").exit_code == 2
    assert run("--batch", "-", "--phone", "+12125550100").exit_code == 2


BATCH = "\n".join([
    json.dumps({"phone": "+12125550100", "at": "2026-06-15T12:00:00Z"}),
    "",
    "{broken",
    json.dumps({"phone": "+12055550100", "at": "2026-06-14T15:00:00Z", "purpose": "telemarketing"}),
    json.dumps({"phone": "+13055550100", "at": "2026-06-15T18:00:00Z", "state": "FL", "postal_code": "33101",
                "window": "09:00-20:00", "history": [{"at": "2026-06-15T13:00:00Z", "outcome": "human"}]}),
    json.dumps({"phone": "+12125550100", "at": "2026-06-15T12:00:00Z", "purpose": "lottery"}),
]) + "\n"


def test_a_batch_prints_one_decision_per_request_in_order_and_goes_on_past_bad_lines() -> None:
    result = run("--batch", "-", stdin=BATCH)
    assert result.exit_code == 0, result.output
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert [d["line"] for d in lines] == [1, 3, 4, 5, 6]  # the blank line 2 is skipped
    assert lines[0]["allowed"] is True
    assert lines[1]["error"].startswith("not JSON")
    assert lines[2]["reasons"][0]["code"] == "sunday_ban"
    assert lines[3]["allowed"] is True
    assert lines[4] == {"line": 6, "error": "purpose 'lottery' is not one of telemarketing, debt_collection, survey"}
    assert "5 requests, 2 bad" in result.stderr and "lines/s" in result.stderr


def test_a_batch_judged_by_several_workers_prints_the_same_lines_in_the_same_order(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(command, "_CHUNK", 40)
    requests = []
    for i in range(230):
        phone = ("+12125550100", "+13055550100", "+12055550100", "+442079460000", "+18005550100")[i % 5]
        requests.append(json.dumps({"phone": phone, "at": f"2026-06-{1 + i % 28:02d}T{i % 24:02d}:17:00Z"}))
    requests[100] = "not json"
    path = tmp_path / "requests.jsonl"
    path.write_text("\n".join(requests) + "\n")
    one = run("--batch", str(path), "--workers", "1")
    two = run("--batch", str(path), "--workers", "2")
    assert one.exit_code == two.exit_code == 0
    assert one.stdout == two.stdout
    lines = [json.loads(line) for line in two.stdout.splitlines()]
    assert [d["line"] for d in lines] == list(range(1, 231))
    assert "error" in lines[100] and "2 workers" in two.stderr
    assert sum(d.get("allowed") is True for d in lines) > 10 and sum(d.get("allowed") is False for d in lines) > 10


def test_a_batch_file_that_cannot_be_read_is_one_clear_error() -> None:
    result = run("--batch", "/nonexistent/requests.jsonl")
    assert result.exit_code == 1 and "cannot read /nonexistent/requests.jsonl" in result.output
