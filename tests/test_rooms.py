"""Supervisor and transfer operations on the simulated carrier: who hears whom in an agent's room."""

from __future__ import annotations

from dialer.carrier import ConferenceControls
from dialer.carriers.rooms import Role, RoomBook
from dialer.carriers.simulated import SimulatedCarrier


def test_the_simulated_carrier_offers_every_conference_control() -> None:
    for name in ("listen", "whisper", "barge", "add_colleague", "transfer"):
        assert callable(getattr(SimulatedCarrier, name))
    assert ConferenceControls  # the protocol the Twilio carrier implements too


def test_a_listening_supervisor_hears_both_sides_and_nobody_hears_them() -> None:
    book = RoomBook()
    customer = book.join("7", "+12015550123", Role.CUSTOMER, leg_id="CA1")
    supervisor = book.join("7", "client:sue", Role.LISTENER)
    room = book.room("7")
    assert room.hears(supervisor, customer)
    assert room.hears(supervisor, "agent:7")
    assert not room.hears(customer, supervisor)
    assert not room.hears("agent:7", supervisor)


def test_a_whisper_reaches_the_agent_and_never_the_customer() -> None:
    book = RoomBook()
    customer = book.join("7", "+12015550123", Role.CUSTOMER, leg_id="CA1")
    coach = book.join("7", "client:sue", Role.COACH)
    room = book.room("7")
    assert room.hears("agent:7", coach)
    assert not room.hears(customer, coach)
    assert room.hears(coach, customer)


def test_a_barging_supervisor_is_heard_by_both_sides() -> None:
    book = RoomBook()
    customer = book.join("7", "+12015550123", Role.CUSTOMER, leg_id="CA1")
    barger = book.join("7", "client:sue", Role.BARGER)
    room = book.room("7")
    assert room.hears(customer, barger)
    assert room.hears("agent:7", barger)


def test_a_cold_transfer_moves_the_customer_to_the_other_agents_room() -> None:
    book = RoomBook()
    book.join("7", "+12015550123", Role.CUSTOMER, leg_id="CA1")
    book.move("CA1", "9")
    assert book.where("CA1") == "9"
    assert book.room("9").hears("agent:9", "CA1")
    assert not book.room("7").hears("agent:7", "CA1")
