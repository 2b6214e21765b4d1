"""The live bus between the web process and the dialer process, in Redis streams.

Carrier webhooks land in a web worker, but the call they describe lives in
the engine of whichever dialer process holds the campaign's lease.  Webhooks
therefore only append to the campaign's stream and answer at once; the dialer
reads the stream in order and applies the events.  A stream (not a pub/sub
channel) keeps what a dialer missed while it restarted: the next lease holder
reads on from the last entry the previous one applied, so nothing is lost.

The same holds for what people do in the web app (an agent goes ready, hangs
up, dispositions): those are commands on the campaign's command stream.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from dialer.events import CarrierEvent, CarrierEventKind

if TYPE_CHECKING:
    import redis

# Streams are capped so that a campaign left running for weeks does not fill Redis;
# a dialer that falls this far behind has lost its lease long before.
STREAM_MAXLEN = 200_000
START = "0-0"


def events_key(campaign_id: int) -> str:
    return f"dialer:events:{campaign_id}"


def commands_key(campaign_id: int) -> str:
    return f"dialer:commands:{campaign_id}"


@dataclass(frozen=True, slots=True)
class Command:
    """Something a person asked of the engine through the web app or the API."""

    name: str  # login | set_ready | pause | logout | hangup | wrap_done | ...
    agent_id: str
    args: Mapping[str, Any]


def publish_carrier_event(client: redis.Redis, campaign_id: int, event: CarrierEvent) -> str:
    """Append one carrier event to the campaign's stream; returns the entry id."""
    fields = {
        "sid": event.call_sid,
        "kind": event.kind.value,
        "at": repr(event.at),
        "seq": str(event.sequence),
        "detail": event.detail,
    }
    entry = client.xadd(events_key(campaign_id), fields, maxlen=STREAM_MAXLEN, approximate=True)  # type: ignore[arg-type]
    return _text(entry)


def read_carrier_events(
    client: redis.Redis, campaign_id: int, after: str = START, *, block_ms: int | None = None, count: int = 500
) -> list[tuple[str, CarrierEvent]]:
    """Events after entry ``after``, oldest first; waits up to ``block_ms`` for the first."""
    rows = _read(client, events_key(campaign_id), after, block_ms, count)
    return [(entry, _event(fields)) for entry, fields in rows]


def publish_command(client: redis.Redis, campaign_id: int, command: Command) -> str:
    fields = {"name": command.name, "agent": command.agent_id, "args": json.dumps(dict(command.args))}
    entry = client.xadd(commands_key(campaign_id), fields, maxlen=STREAM_MAXLEN, approximate=True)  # type: ignore[arg-type]
    return _text(entry)


def read_commands(
    client: redis.Redis, campaign_id: int, after: str = START, *, block_ms: int | None = None, count: int = 500
) -> list[tuple[str, Command]]:
    rows = _read(client, commands_key(campaign_id), after, block_ms, count)
    return [(entry, _command(fields)) for entry, fields in rows]


def _read(
    client: redis.Redis, key: str, after: str, block_ms: int | None, count: int
) -> list[tuple[str, dict[str, str]]]:
    answer: Any = client.xread({key: after}, count=count, block=block_ms)
    out: list[tuple[str, dict[str, str]]] = []
    for _stream, entries in answer or []:
        for entry, raw in entries:
            out.append((_text(entry), {_text(k): _text(v) for k, v in raw.items()}))
    return out


def _command(fields: Mapping[str, str]) -> Command:
    return Command(fields["name"], fields["agent"], json.loads(fields.get("args") or "{}"))


def _event(fields: Mapping[str, str]) -> CarrierEvent:
    return CarrierEvent(
        call_sid=fields["sid"],
        kind=CarrierEventKind(fields["kind"]),
        at=float(fields["at"]),
        sequence=int(fields["seq"]),
        detail=fields.get("detail", ""),
    )


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value
