"""A local stand-in for Twilio's Voice API, speaking its real wire protocol.

It lets the whole path (engine, the official twilio library, HTTP, signed
webhooks, our web app) run with no account and no network. Calls are played
out in wall-clock time from a pacing scenario, with the same draws as the
in-process simulated carrier. See ``docs/fake-twilio.md``.

This package imports no twilio code: its signatures and JSON are written from
Twilio's published rules so that tests comparing them with the twilio library
compare two independent implementations.
"""

from dialer.carriers.fake_twilio.config import FakeTwilioConfig
from dialer.carriers.fake_twilio.server import FakeTwilioServer, running, serve
from dialer.carriers.fake_twilio.signing import twilio_signature

__all__ = ["FakeTwilioConfig", "FakeTwilioServer", "running", "serve", "twilio_signature"]
