"""Running a call's TwiML: the verbs our flows use, each taking the time it takes.

A call runs one document at a time. Every new document (a redirect by the
API, a ``<Redirect>``, a ``<Gather>`` action) bumps the call's generation, so a
step scheduled for the old document finds itself stale and does nothing.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from typing import TYPE_CHECKING
from urllib.parse import urljoin

from dialer.carriers.fake_twilio.calls import FakeCall
from dialer.carriers.fake_twilio.twiml import TwimlError, Verb, parse_twiml
from dialer.carriers.fake_twilio.webhooks import Delivery

if TYPE_CHECKING:
    from dialer.carriers.fake_twilio.switchboard import Switchboard

GATHER_WAIT = "_GatherWait"  # an internal step: the prompts of a <Gather> are over, now wait for keys
PRESS_DELAY_S = 1.0  # a person who presses a key does so a second after the prompt ends
PRESSED_DIGIT = "9"


class Interpreter:
    def __init__(self, board: Switchboard) -> None:
        self.board = board
        self._verbs: dict[str, Callable[[FakeCall, int, Verb], None]] = {
            "Say": self._say,
            "Play": self._play,
            "Pause": self._pause,
            "Hangup": self._hangup,
            "Reject": self._hangup,
            "Redirect": self._redirect,
            "Gather": self._gather,
            GATHER_WAIT: self._gather_wait,
            "Dial": self._dial,
        }

    # ------------------------------------------------------------------ documents
    def start(self, call: FakeCall, extra: dict[str, str] | None = None) -> None:
        """Run the call's instructions: its inline TwiML, or what its URL answers."""
        instructions = call.instructions
        if instructions.twiml is not None:
            self.run(call, instructions.twiml, None)
        elif instructions.url is not None:
            self.fetch(call, "twiml", instructions.url, instructions.method, extra or {})
        else:
            self.board.end_call(call, "completed", "no-instructions")

    def fetch(self, call: FakeCall, purpose: str, url: str, method: str, extra: dict[str, str]) -> None:
        """Ask the app for TwiML and follow it; nothing else runs on this call meanwhile."""
        call.generation += 1
        call.program.clear()
        generation = call.generation
        params = self.board.call_params(call, "in-progress")
        if call.answered_by is not None:
            params["AnsweredBy"] = call.answered_by
        params.update(extra)

        def done(delivery: Delivery) -> None:
            self.board.later(0.0, lambda: self._fetched(call, generation, url, delivery))

        self.board.send(call, purpose, url, method, params, on_done=done)

    def _fetched(self, call: FakeCall, generation: int, url: str, delivery: Delivery) -> None:
        if call.ended or call.generation != generation:
            return
        if not delivery.ok or delivery.body is None:
            call.note(self.board.now(), "application-error", url=url, status=delivery.status, error=delivery.error)
            self.board.end_call(call, "completed", "application-error")
            return
        self.run(call, delivery.body, url)

    def run(self, call: FakeCall, text: str, doc_url: str | None) -> None:
        try:
            verbs = parse_twiml(text)
        except TwimlError as error:
            call.note(self.board.now(), "application-error", error=str(error))
            self.board.end_call(call, "completed", "application-error")
            return
        call.generation += 1
        call.program = deque(verbs)
        call.doc_url = doc_url
        self.next(call, call.generation)

    def next(self, call: FakeCall, generation: int) -> None:
        """Run the next verb; a document that runs out hangs up, as at Twilio."""
        if call.ended or call.generation != generation:
            return
        if not call.program:
            self.board.end_call(call, "completed", "twiml-ended")
            return
        verb = call.program.popleft()
        handler = self._verbs.get(verb.name)
        if verb.name != GATHER_WAIT:
            call.verbs.append(verb.describe())
            call.note(self.board.now(), "verb", verb=verb.name, attrs=verb.attrs, text=verb.text or None)
        if handler is None:
            call.note(self.board.now(), "unsupported-verb", verb=verb.name)
            self.next(call, generation)
            return
        handler(call, generation, verb)

    def _after(self, call: FakeCall, generation: int, seconds: float) -> None:
        self.board.later(seconds, lambda: self.next(call, generation))

    def _url(self, call: FakeCall, relative: str) -> str | None:
        if not relative:
            return None
        return urljoin(call.doc_url or "", relative)

    # ------------------------------------------------------------------ verbs
    def _loops(self, verb: Verb) -> int:
        loops = int(verb.number("loop", 1))
        return 1 if loops <= 0 else min(loops, 100)  # loop="0" means forever; a call ends long before 100

    def _say(self, call: FakeCall, generation: int, verb: Verb) -> None:
        call.said.append(verb.text)
        seconds = len(verb.text.split()) / self.board.config.say_words_per_s
        self._after(call, generation, seconds * self._loops(verb))

    def _play(self, call: FakeCall, generation: int, verb: Verb) -> None:
        self._after(call, generation, self.board.config.play_s * self._loops(verb))

    def _pause(self, call: FakeCall, generation: int, verb: Verb) -> None:
        self._after(call, generation, max(0.0, verb.number("length", 1.0)))

    def _hangup(self, call: FakeCall, generation: int, verb: Verb) -> None:
        self.board.end_call(call, "completed", "hangup-verb")

    def _redirect(self, call: FakeCall, generation: int, verb: Verb) -> None:
        url = self._url(call, verb.text)
        if url is None:
            self.next(call, generation)
            return
        self.fetch(call, "redirect", url, verb.attr("method", "POST").upper(), {})

    def _gather(self, call: FakeCall, generation: int, verb: Verb) -> None:
        # Drawn for every <Gather> so that one call's prompts do not shift another call's choices.
        presses = self.board.press_rng.random() < self.board.config.press_share and call.is_human
        wait = Verb(GATHER_WAIT, dict(verb.attrs, press=PRESSED_DIGIT if presses else ""))
        call.program.extendleft(reversed((*verb.children, wait)))
        self.next(call, generation)

    def _gather_wait(self, call: FakeCall, generation: int, verb: Verb) -> None:
        digit = verb.attr("press")
        if not digit:
            self._after(call, generation, max(0.0, verb.number("timeout", 5.0)))
            return

        def press() -> None:
            if call.ended or call.generation != generation:
                return
            call.digits.append(digit)
            call.note(self.board.now(), "digits", digits=digit)
            action = self._url(call, verb.attr("action")) or call.doc_url
            if action is None:
                self.next(call, generation)
                return
            self.fetch(call, "gather", action, verb.attr("method", "POST").upper(), {"Digits": digit})

        self.board.later(PRESS_DELAY_S, press)

    def _dial(self, call: FakeCall, generation: int, verb: Verb) -> None:
        rooms = [child for child in verb.children if child.name == "Conference"]
        if not rooms or not rooms[0].text:
            call.note(self.board.now(), "unsupported-verb", verb="Dial", detail="only <Dial><Conference> is simulated")
            self.next(call, generation)
            return
        call.dial = (generation, self._url(call, verb.attr("action")), verb.attr("method", "POST").upper())
        self.board.hall.join_by_twiml(call, rooms[0])

    def dial_over(self, call: FakeCall) -> None:
        """The call left its conference: the ``<Dial>`` ends and the document goes on (or its action runs)."""
        if call.dial is None or call.ended:
            return
        generation, action, method = call.dial
        call.dial = None
        if call.generation != generation:
            return
        if action is not None:
            self.fetch(call, "dial-action", action, method, {"DialCallStatus": "completed"})
        else:
            self.next(call, generation)
