"""Conference semantics: who is in which room, when a room starts and ends, who hears whom.

A customer is "connected" the moment they share a started room with an agent
they can hear (not a coach, not on hold); from then they talk for their drawn
time and hang up. Until then their patience runs, as in the simulated carrier.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from dialer.carriers.fake_twilio.calls import FakeCall, new_sid
from dialer.carriers.fake_twilio.conferences import EVENT_NAMES, Conference, Participant
from dialer.carriers.fake_twilio.resources import rfc2822
from dialer.carriers.fake_twilio.twiml import Verb
from dialer.carriers.fake_twilio.validation import ParticipantUpdate

if TYPE_CHECKING:
    from dialer.carriers.fake_twilio.switchboard import Switchboard


def _words(value: str) -> frozenset[str]:
    return frozenset(word for word in value.replace(",", " ").split() if word in EVENT_NAMES)


class ConferenceHall:
    def __init__(self, board: Switchboard) -> None:
        self.board = board
        self.conferences: dict[str, Conference] = {}
        self._open: dict[str, str] = {}  # friendly name -> the sid of its room not yet completed

    # ------------------------------------------------------------------ finding rooms
    def find(self, key: str) -> Conference | None:
        """By sid, or by friendly name (the open room of that name, else the latest)."""
        if key in self.conferences:
            return self.conferences[key]
        sid = self._open.get(key)
        if sid is not None:
            return self.conferences[sid]
        named = [c for c in self.conferences.values() if c.friendly_name == key]
        return named[-1] if named else None

    def room(self, account_sid: str, name: str) -> Conference:
        """The open room called ``name``, made if there is none (a finished room is never reopened)."""
        sid = self._open.get(name)
        if sid is not None:
            return self.conferences[sid]
        now = self.board.now()
        conference = Conference(new_sid("CF"), account_sid, name, created_at=now, updated_at=now)
        self.conferences[conference.sid] = conference
        self._open[name] = conference.sid
        conference.note(now, "created")
        return conference

    def set_callback(self, conference: Conference, url: str, method: str, events: frozenset[str]) -> None:
        """The first participant to name a status callback sets the room's (later ones are ignored)."""
        if conference.callback is None:
            conference.callback = url
            conference.callback_method = method
            conference.events = events

    def listing(self, friendly_name: str | None, status: str | None) -> list[Conference]:
        return [
            c
            for c in self.conferences.values()
            if (friendly_name is None or c.friendly_name == friendly_name) and (status is None or c.status == status)
        ]

    # ------------------------------------------------------------------ entering
    def add(
        self,
        conference: Conference,
        call: FakeCall,
        *,
        label: str | None,
        muted: bool,
        coaching: bool,
        call_sid_to_coach: str | None,
        start_on_enter: bool,
        end_on_exit: bool,
        beep: bool,
    ) -> Participant:
        now = self.board.now()
        participant = Participant(
            call_sid=call.sid,
            kind=call.kind,
            label=label,
            muted=muted,
            hold=False,
            coaching=coaching,
            call_sid_to_coach=call_sid_to_coach,
            start_conference_on_enter=start_on_enter,
            end_conference_on_exit=end_on_exit,
            beep=beep,
            created_at=now,
            updated_at=now,
        )
        conference.participants[call.sid] = participant
        return participant

    def join_by_twiml(self, call: FakeCall, noun: Verb) -> None:
        """``<Dial><Conference ...>name</Conference></Dial>``."""
        conference = self.room(call.account_sid, noun.text)
        callback = self.board.interpreter._url(call, noun.attr("statusCallback"))
        if callback is not None:
            self.set_callback(
                conference,
                callback,
                noun.attr("statusCallbackMethod", "POST").upper(),
                _words(noun.attr("statusCallbackEvent", "start end")),
            )
        participant = self.add(
            conference,
            call,
            label=noun.attr("participantLabel") or None,
            muted=noun.flag("muted", False),
            coaching=noun.flag("coach", False) or bool(noun.attr("coach").startswith("CA")),
            call_sid_to_coach=noun.attr("coach") if noun.attr("coach").startswith("CA") else None,
            start_on_enter=noun.flag("startConferenceOnEnter", True),
            end_on_exit=noun.flag("endConferenceOnExit", False),
            beep=noun.attr("beep", "true").lower() not in ("false", "onexit"),
        )
        self._enter(call, conference, participant)

    def join_by_sid(self, call: FakeCall, conference_sid: str) -> None:
        """A Participants-API call was answered: it goes straight in."""
        conference = self.conferences.get(conference_sid)
        participant = None if conference is None else conference.participants.get(call.sid)
        if conference is None or participant is None:
            return
        if conference.status == "completed":
            call.note(self.board.now(), "conference-already-over", conference_sid=conference.sid)
            self.board.end_call(call, "completed", "conference-over")
            return
        self._enter(call, conference, participant)

    def _enter(self, call: FakeCall, conference: Conference, participant: Participant) -> None:
        now = self.board.now()
        participant.status = "connected"
        participant.updated_at = now
        conference.updated_at = now
        call.conference_sid = conference.sid
        call.note(now, "joined-conference", conference_sid=conference.sid, name=conference.friendly_name)
        conference.note(now, "participant-join", call_sid=call.sid)
        self._emit(conference, "participant-join", participant)
        if conference.status == "init" and participant.start_conference_on_enter:
            conference.status = "in-progress"
            conference.note(now, "conference-start")
            self._emit(conference, "conference-start")
        self._reconsider(conference)

    def participant_status(self, call: FakeCall, status: str) -> None:
        """Mirror a Participants-API call's progress (ringing, complete, failed) on its participant."""
        if call.join_on_answer is None:
            return
        conference = self.conferences.get(call.join_on_answer)
        participant = None if conference is None else conference.participants.get(call.sid)
        if participant is not None and participant.status in ("queued", "connecting", "ringing"):
            participant.status = status
            participant.updated_at = self.board.now()

    def _reconsider(self, conference: Conference) -> None:
        if conference.status != "in-progress":
            return
        present = conference.present()
        for participant in present:
            if participant.kind != "customer":
                continue
            if any(other.can_be_heard_by_customer for other in present if other is not participant):
                call = self.board.calls.get(participant.call_sid)
                if call is not None and call.is_human:
                    self.board.customer_connected(call)

    # ------------------------------------------------------------------ changing and leaving
    def update(self, conference: Conference, participant: Participant, update: ParticipantUpdate) -> None:
        now = self.board.now()
        changes: list[str] = []
        if update.muted is not None and update.muted != participant.muted:
            participant.muted = update.muted
            changes.append("participant-mute" if update.muted else "participant-unmute")
        if update.hold is not None and update.hold != participant.hold:
            participant.hold = update.hold
            changes.append("participant-hold" if update.hold else "participant-unhold")
        if update.coaching is not None and update.coaching != participant.coaching:
            participant.coaching = update.coaching
            changes.append("participant-modify")
        if update.call_sid_to_coach is not None:
            participant.call_sid_to_coach = update.call_sid_to_coach
        participant.updated_at = now
        for event in changes:
            conference.note(now, event, call_sid=participant.call_sid)
            self._emit(conference, event, participant)
        self._reconsider(conference)

    def leave(self, call: FakeCall, *, resume: bool, kicked: bool = False) -> None:
        """The call leaves its room; with ``resume`` its TwiML goes on after the ``<Dial>``."""
        conference = self.conferences.get(call.conference_sid or "")
        call.conference_sid = None
        if conference is None:
            return
        participant = conference.participants.get(call.sid)
        if participant is None or not participant.present:
            return
        now = self.board.now()
        participant.status = "complete"
        participant.updated_at = now
        conference.updated_at = now
        call.note(now, "left-conference", conference_sid=conference.sid, kicked=kicked)
        conference.note(now, "participant-leave", call_sid=call.sid)
        self._emit(conference, "participant-leave", participant)
        if conference.status != "completed":
            if participant.end_conference_on_exit and conference.status == "in-progress":
                reason = (
                    "participant-with-end-conference-on-exit-kicked"
                    if kicked
                    else "participant-with-end-conference-on-exit-left"
                )
                self._end(conference, reason, call.sid)
            elif not conference.present():
                self._end(conference, "last-participant-kicked" if kicked else "last-participant-left", call.sid)
        if resume:
            self.board.interpreter.dial_over(call)
        else:
            call.dial = None

    def _end(self, conference: Conference, reason: str, ending_call_sid: str) -> None:
        now = self.board.now()
        conference.status = "completed"
        conference.reason_ended = reason
        conference.call_sid_ending = ending_call_sid
        conference.updated_at = now
        if self._open.get(conference.friendly_name) == conference.sid:
            del self._open[conference.friendly_name]
        for participant in conference.present():
            call = self.board.calls.get(participant.call_sid)
            if call is not None:
                self.leave(call, resume=True)
        for participant in conference.participants.values():
            if participant.status in ("queued", "connecting", "ringing"):
                call = self.board.calls.get(participant.call_sid)
                if call is not None:
                    status = "completed" if call.answered_at is not None else "canceled"
                    self.board.end_call(call, status, "conference-over")
        conference.note(now, "conference-end", reason=reason)
        self._emit(conference, "conference-end")

    # ------------------------------------------------------------------ callbacks
    def _emit(self, conference: Conference, event: str, participant: Participant | None = None) -> None:
        if conference.callback is None or not conference.wants(event):
            return
        params = {
            "AccountSid": conference.account_sid,
            "ConferenceSid": conference.sid,
            "FriendlyName": conference.friendly_name,
            "StatusCallbackEvent": event,
            "SequenceNumber": str(conference.sequence),
            "Timestamp": rfc2822(self.board.epoch(self.board.now())),
        }
        conference.sequence += 1
        if participant is not None:
            params.update(
                CallSid=participant.call_sid,
                Coaching=str(participant.coaching).lower(),
                Muted=str(participant.muted).lower(),
                Hold=str(participant.hold).lower(),
                EndConferenceOnExit=str(participant.end_conference_on_exit).lower(),
                StartConferenceOnEnter=str(participant.start_conference_on_enter).lower(),
            )
            if participant.label:
                params["ParticipantLabel"] = participant.label
            if participant.call_sid_to_coach:
                params["CallSidToCoach"] = participant.call_sid_to_coach
        if event == "conference-end":
            params["ReasonConferenceEnded"] = conference.reason_ended or ""
            params["CallSidEndingConference"] = conference.call_sid_ending or ""
        delivery = self.board.webhooks.send(
            "conference-status",
            conference.callback,
            conference.callback_method,
            params,
            key=conference.sid,
            call_sid=participant.call_sid if participant else None,
            conference_sid=conference.sid,
        )
        conference.note(self.board.now(), "webhook", purpose="conference-status", callback_event=event, id=delivery.id)
        if participant is not None:
            call = self.board.calls.get(participant.call_sid)
            if call is not None:
                call.webhook_ids.append(delivery.id)
