"""The live bus keeps carrier events and commands in order and loses none across readers."""

from campaigns.live_events import (
    Command,
    publish_carrier_event,
    publish_command,
    read_carrier_events,
    read_commands,
)
from campaigns.redis_conn import connect_redis
from dialer.events import CarrierEvent, CarrierEventKind


def test_carrier_events_come_back_in_order_and_unchanged() -> None:
    client = connect_redis("memory://live-events-1")
    sent = [
        CarrierEvent("CA1", CarrierEventKind.RINGING, 10.25, 2),
        CarrierEvent("CA1", CarrierEventKind.AMD, 13.5, 4, "machine"),
        CarrierEvent("CA2", CarrierEventKind.COMPLETED, 20.0, 7, "no-answer"),
    ]
    for event in sent:
        publish_carrier_event(client, 7, event)
    read = read_carrier_events(client, 7)
    assert [event for _, event in read] == sent
    assert read_carrier_events(client, 8) == []


def test_a_second_reader_resumes_after_the_last_entry_the_first_applied() -> None:
    client = connect_redis("memory://live-events-2")
    for n in range(5):
        publish_carrier_event(client, 1, CarrierEvent(f"CA{n}", CarrierEventKind.INITIATED, float(n), 1))
    first = read_carrier_events(client, 1, count=2)
    assert [e.call_sid for _, e in first] == ["CA0", "CA1"]
    rest = read_carrier_events(client, 1, after=first[-1][0])
    assert [e.call_sid for _, e in rest] == ["CA2", "CA3", "CA4"]


def test_commands_carry_their_arguments() -> None:
    client = connect_redis("memory://live-events-3")
    publish_command(client, 3, Command("pause", "agent-2", {"reason": "lunch"}))
    [(_, command)] = read_commands(client, 3)
    assert command == Command("pause", "agent-2", {"reason": "lunch"})
