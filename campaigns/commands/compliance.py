"""``dialer compliance``: the dial gate's answer for officers and scripts.

``explain`` runs the very gate the engine uses (``compliance.gate.default_gate``)
on a number and an instant, or on a file of such requests, and prints the
decision with its reasons, citations and the next allowed time.  It needs no
database: the rules ship with the package.
"""

from __future__ import annotations

import dataclasses
import itertools
import json
import multiprocessing
import os
import sys
import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any, TextIO

import click

from compliance.explain import Explainer, RequestError, parse_request
from compliance.history import HistoryError, read_history
from compliance.ruleset import PURPOSES, RULESET_VERSION

_EXPLAIN_HELP = """Explain whether a call to --phone at --at is allowed, and why.

\b
The decision is the dial gate's own: calling hours of every rule that binds
the call (federal, the states the area code and address point to, Canada,
UK, Australia, France) in every candidate time zone of the called party,
Sunday and holiday bans on the local date, frequency caps and lockouts over
the --history of earlier attempts, and the campaign --window, which can only
narrow the law. Reason codes: outside_hours, day_ban, sunday_ban,
holiday_ban, no_holiday_calendar, frequency_cap, abandon_lockout,
machine_lockout, unknown_timezone, dnc_company, dnc_campaign, dnc_national,
registry_stale, no_consent, consent_revoked, reassigned_number,
abandon_budget (docs/compliance.md).

\b
--history FILE lists earlier attempts to the number in the campaign: a JSON
list of {"at": ISO, "outcome": no-answer|machine|human|abandoned}, JSON
lines, or CSV with an at,outcome header.

\b
--batch FILE.jsonl (or - for standard input) takes one request per line,
an object with the keys phone, at, state, postal_code, purpose, window,
history (a list like the history file's) and timezone; it prints one JSON
decision per line, in order, each with its "line" number. A bad line prints
{"line": N, "error": "..."} and the batch goes on; blank lines are skipped.
Large batches are judged by --workers processes; the rate is reported on
standard error.

\b
Examples:
  dialer compliance explain --phone +18504345555 --at 2026-03-08T13:30:00Z --json
  dialer compliance explain --phone +12125550100 --at 2026-06-15T23:00:00Z \\
      --state FL --purpose debt_collection --history attempts.json --json
  dialer compliance explain --batch requests.jsonl > decisions.jsonl
"""


@click.group("compliance")
def compliance_group() -> None:
    """Compliance: explain the dial gate's decisions."""


@compliance_group.command("explain", help=_EXPLAIN_HELP)
@click.option("--phone", metavar="E164", help="The called number in E.164, e.g. +12125550100.")
@click.option("--at", "at", metavar="ISO-UTC", help="The instant of the call, e.g. 2026-03-08T13:30:00Z.")
@click.option("--state", metavar="ST", help="The contact's state or province (FL, ON...).")
@click.option("--postal-code", metavar="Z", help="The contact's US ZIP or Canadian postal code.")
@click.option("--timezone", "zones", multiple=True, metavar="ZONE", help="A zone stated for the contact (repeatable).")
@click.option("--purpose", type=click.Choice(PURPOSES), default="telemarketing", show_default=True)
@click.option("--window", default="08:00-21:00", show_default=True, metavar="HH:MM-HH:MM",
              help="The campaign's own calling window (local time); it narrows the law, never widens it.")
@click.option("--history", "history_file", type=click.Path(dir_okay=False, path_type=Path),
              help="Earlier attempts to this number in the campaign (JSON, JSON lines or CSV).")
@click.option("--batch", "batch_file", type=click.Path(dir_okay=False, allow_dash=True),
              help="A JSON-lines file of requests ('-': standard input); one decision per line.")
@click.option("--workers", type=click.IntRange(1, 64), default=None, metavar="N",
              help="Processes judging a --batch [default: the number of CPUs].")
@click.option("--json", "as_json", is_flag=True, help="Print the decision as one JSON object.")
def explain_command(
    phone: str | None, at: str | None, state: str | None, postal_code: str | None, zones: tuple[str, ...],
    purpose: str, window: str, history_file: Path | None, batch_file: str | None, workers: int | None,
    as_json: bool,
) -> None:
    explainer = Explainer()
    if batch_file is not None:
        if phone or at or state or postal_code or zones or history_file:
            raise click.UsageError("--batch takes every request from the file; leave out --phone, --at and the rest")
        _run_batch(explainer, batch_file, workers or os.cpu_count() or 1)
        return
    if not phone or not at:
        raise click.UsageError("give --phone and --at (or --batch FILE)")
    request: dict[str, Any] = {"phone": phone, "at": at, "state": state, "postal_code": postal_code,
                               "purpose": purpose, "window": window, "timezone": list(zones)}
    try:
        parsed = parse_request(request)
        if history_file is not None:
            parsed = dataclasses.replace(parsed, history=read_history(history_file.read_text(encoding="utf-8")))
        decision = explainer.explain(parsed)
    except (RequestError, HistoryError, OSError) as exc:
        raise click.ClickException(str(exc)) from exc
    if as_json:
        click.echo(json.dumps(decision, ensure_ascii=False))
    else:
        _print_text(decision)


def _print_text(d: dict[str, Any]) -> None:
    click.echo(f"{'ALLOWED' if d['allowed'] else 'BLOCKED'}: {d['phone']} at {d['at']} ({d['purpose']}, "
               f"window {d['window']})")
    for reason in d["reasons"]:
        cite = f" [{reason['cite']}; confidence {reason['conf']}]" if "cite" in reason else ""
        click.echo(f"  {reason['code']:<18} {reason['rule']}: {reason['detail']}{cite}")
    if not d["allowed"]:
        nxt = d["next_allowed_at"]
        click.echo(f"  next allowed: {nxt if nxt else 'not by waiting: someone must act'}")
    click.echo("  zones: " + (", ".join(f"{z['zone']} ({z['local']})" for z in d["zones"]) or "unknown"))
    click.echo(f"  jurisdictions: {', '.join(d['jurisdictions']) or 'none'}")
    for note in d["notes"]:
        click.echo(f"  note: {note}")
    passed = [c["rule"] for c in d["checked"] if c["passed"]]
    click.echo(f"  passed: {', '.join(passed) or 'none'}")
    click.echo(f"  rule set {d['ruleset_version']}")


_CHUNK = 2000  # lines a worker judges at a time
_worker: Explainer | None = None


def _judge_chunk(chunk: list[tuple[int, str]]) -> tuple[str, int]:
    """Judge (line number, text) pairs; the JSON lines to print and how many were bad."""
    global _worker
    if _worker is None:
        _worker = Explainer()
    return _judge(_worker, chunk)


def _judge(explainer: Explainer, chunk: list[tuple[int, str]]) -> tuple[str, int]:
    dumps = _ENCODER.encode
    explain_line = explainer.explain_line
    results = [explain_line(line, number) for number, line in chunk]
    return "".join(dumps(r) + "\n" for r in results), sum("error" in r for r in results)


_ENCODER = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))


def _chunks(stream: Iterable[str]) -> Iterator[list[tuple[int, str]]]:
    chunk: list[tuple[int, str]] = []
    for number, line in enumerate(stream, 1):
        if line.strip():
            chunk.append((number, line))
            if len(chunk) >= _CHUNK:
                yield chunk
                chunk = []
    if chunk:
        yield chunk


def _run_batch(explainer: Explainer, name: str, workers: int) -> None:
    stream: TextIO
    opened = name != "-"
    try:
        stream = open(name, encoding="utf-8") if opened else sys.stdin  # noqa: SIM115 - closed below
    except OSError as exc:
        raise click.ClickException(f"cannot read {name}: {exc.strerror or exc}") from exc
    out = sys.stdout
    started = time.perf_counter()
    lines = errors = 0
    try:
        chunks = _chunks(stream)
        first = next(chunks, None)
        if first is not None and (workers <= 1 or len(first) < _CHUNK):
            for chunk in itertools.chain([first], chunks):  # small or single-process: no pool to start
                text, bad = _judge(explainer, chunk)
                out.write(text)
                lines, errors = lines + len(chunk), errors + bad
        elif first is not None:
            context = multiprocessing.get_context("fork" if "fork" in multiprocessing.get_all_start_methods()
                                                  else "spawn")
            with context.Pool(workers) as pool:
                sizes: list[int] = []

                def feed() -> Iterator[list[tuple[int, str]]]:
                    for chunk in itertools.chain([first], chunks):
                        sizes.append(len(chunk))
                        yield chunk

                for text, bad in pool.imap(_judge_chunk, feed()):
                    out.write(text)
                    errors += bad
                lines = sum(sizes)
        out.flush()
    finally:
        if opened:
            stream.close()
    elapsed = max(time.perf_counter() - started, 1e-9)
    click.echo(f"{lines:,} requests, {errors:,} bad, in {elapsed:.1f} s ({lines / elapsed:,.0f} lines/s, "
               f"{max(workers, 1)} worker{'s' if workers > 1 else ''}), rule set {RULESET_VERSION}", err=True)
