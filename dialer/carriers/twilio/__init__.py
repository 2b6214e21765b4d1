"""The Twilio adapter: the engine's carrier on Twilio, the TwiML it serves and the webhook URLs it hands out."""

from collections.abc import Callable
from typing import Any

from dialer.carriers.twilio.carrier import CallTokens, TwilioCarrier
from dialer.carriers.twilio.http import LocalTwilioHttpClient, make_client
from dialer.carriers.twilio.urls import WebhookUrls, agent_from_conference, conference_name


def carrier_factory(settings: Any) -> Callable[[Any], TwilioCarrier]:
    """The dialer process's hook (``campaigns.carrier_factory.carrier_factory``), found here by name.

    Imported on call: the campaign-aware half lives with the campaigns, which the carrier does not import.
    """
    from campaigns.carrier_factory import carrier_factory as build

    return build(settings)


__all__ = [
    "CallTokens",
    "LocalTwilioHttpClient",
    "TwilioCarrier",
    "WebhookUrls",
    "agent_from_conference",
    "carrier_factory",
    "conference_name",
    "make_client",
]
