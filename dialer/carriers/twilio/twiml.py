"""The TwiML documents the dialer gives Twilio, built with the official library.

They live apart from the carrier because the web process serves some of them
(the hold loop, the agent's room, the opt-out and the inbound menu) and the
carrier pushes the others into live calls; both must say the same thing.
"""

from __future__ import annotations

from twilio.twiml.voice_response import Dial, Gather, VoiceResponse

from dialer.carriers.twilio.urls import conference_name

# The key the drop message offers for the automated opt-out (campaigns.services.OPT_OUT_KEY says
# the same digit in the default message).
OPTOUT_KEY = "9"
# The key an inbound caller presses to reach a person.
REACH_US_KEY = "1"
# Seconds each hold step lasts.  The engine replaces the hold with its own TwiML
# (bridge or message) the moment it decides, which interrupts the pause at once,
# so the step length adds no delay; it only sets how often Twilio asks again.
HOLD_STEP_S = 1
# Seconds the gather waits for the opt-out key after the message.
OPTOUT_WAIT_S = 5

CONFERENCE_EVENTS = "join leave"


def hold(next_url: str) -> str:
    """Silence while the engine decides, then ask again (the engine's update usually comes first)."""
    response = VoiceResponse()
    response.pause(length=HOLD_STEP_S)
    response.redirect(next_url, method="POST")
    return str(response)


def _room(agent_id: str, status_callback: str, *, agent_leg: bool) -> str:
    response = VoiceResponse()
    dial = Dial()
    dial.conference(
        conference_name(agent_id),
        status_callback=status_callback,
        status_callback_event=CONFERENCE_EVENTS,
        status_callback_method="POST",
        start_conference_on_enter=True,
        # The room lives as long as its agent: when the agent leaves, the customer leg ends too;
        # a customer hanging up leaves the agent in the room for the next call.
        end_conference_on_exit=agent_leg,
        beep=False,
        **({"wait_url": ""} if agent_leg else {}),
    )
    response.append(dial)
    return str(response)


def connect_customer(agent_id: str, status_callback: str) -> str:
    """Move an answered customer into the agent's room; the join webhook reports the bridge."""
    return _room(agent_id, status_callback, agent_leg=False)


def agent_room(agent_id: str, status_callback: str) -> str:
    """Park an agent's leg in their own room, with no hold music, until a customer joins."""
    return _room(agent_id, status_callback, agent_leg=True)


def is_audio_url(message: str) -> bool:
    """A message given as an https URL is a recording to play, anything else is text to speak."""
    text = message.strip()
    return text.startswith("https://") and " " not in text


def message_and_hangup(message: str, optout_url: str) -> str:
    """The drop (or voicemail) message with the law's automated key-press opt-out, then hang up.

    The message itself offers the key (the campaign's message must say "press 9"); the
    gather lets a press during or just after it reach the opt-out webhook.
    """
    response = VoiceResponse()
    gather = Gather(num_digits=1, action=optout_url, method="POST", timeout=OPTOUT_WAIT_S)
    if is_audio_url(message):
        gather.play(message.strip())
    else:
        gather.say(message)
    response.append(gather)
    response.hangup()
    return str(response)


def optout_confirmed() -> str:
    response = VoiceResponse()
    response.say("Your number has been added to our do-not-call list. You will not be called again. Goodbye.")
    response.hangup()
    return str(response)


def optout_failed() -> str:
    """Said when the request could not be recorded: the caller must know to ask another way."""
    response = VoiceResponse()
    response.say("Sorry, we could not record your request. Please call us back to be added to our do-not-call list.")
    response.hangup()
    return str(response)


def goodbye() -> str:
    response = VoiceResponse()
    response.say("Goodbye.")
    response.hangup()
    return str(response)


def hangup() -> str:
    response = VoiceResponse()
    response.hangup()
    return str(response)


def inbound_menu(action_url: str, seller: str) -> str:
    """What a person calling back the caller ID hears: reach us, or stop the calls."""
    response = VoiceResponse()
    gather = Gather(num_digits=1, action=action_url, method="POST", timeout=8)
    who = f"Thank you for calling {seller}." if seller else "Thank you for calling."
    gather.say(
        f"{who} To speak with a representative, press {REACH_US_KEY}. "
        f"To stop all calls from us, press {OPTOUT_KEY}."
    )
    response.append(gather)
    response.say("We did not receive a choice. Goodbye.")
    response.hangup()
    return str(response)


def inbound_busy() -> str:
    response = VoiceResponse()
    response.say(
        "All of our representatives are busy. Please call again later. "
        f"To stop all calls from us, call this number and press {OPTOUT_KEY}. Goodbye."
    )
    response.hangup()
    return str(response)
