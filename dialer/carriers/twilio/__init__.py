"""The Twilio adapter: the engine's carrier on Twilio, the TwiML it serves and the webhook URLs it hands out."""

from dialer.carriers.twilio.carrier import CallTokens, TwilioCarrier
from dialer.carriers.twilio.http import RedirectedTwilioHttpClient, make_client
from dialer.carriers.twilio.urls import WebhookUrls, agent_from_conference, conference_name

__all__ = [
    "CallTokens",
    "RedirectedTwilioHttpClient",
    "TwilioCarrier",
    "WebhookUrls",
    "agent_from_conference",
    "conference_name",
    "make_client",
]
