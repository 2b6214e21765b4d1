"""The carrier a dialer process dials with, built from the settings.

``DIALER_CARRIER=twilio`` gives a ``TwilioCarrier`` on the configured account
(or on the stand-in at ``TWILIO_API_URL``), sharing the account's
calls-per-second bucket in Redis with every other dialer process.  The
simulated carrier lives in virtual time and is built by the simulator, not here.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from campaigns.cps_bucket import CpsBucket
from campaigns.models import Campaign
from campaigns.redis_conn import connect_redis
from campaigns.settings import Settings
from dialer.carriers.twilio import TwilioCarrier, make_client

if TYPE_CHECKING:
    import redis
    from twilio.rest import Client


class CarrierSettingsError(ValueError):
    """The settings do not describe a carrier this process can dial with."""


def make_carrier(
    settings: Settings,
    campaign_id: int,
    redis: redis.Redis,
    *,
    record: bool = False,
    client: Client | None = None,
) -> TwilioCarrier:
    """The Twilio carrier for one campaign; ``client`` replaces the REST client (tests, or one shared client)."""
    sid, token, public = _credentials(settings)
    rest = client if client is not None else make_client(sid, token, settings.twilio_api_url)
    # One bucket per account: subaccounts have limits of their own.
    tokens = CpsBucket(redis, rate=settings.twilio_cps, name=sid)
    return TwilioCarrier(rest, campaign_id=campaign_id, public_base_url=public, record=record, tokens=tokens)


def carrier_factory(settings: Settings, redis: redis.Redis | None = None) -> Callable[[Campaign], TwilioCarrier]:
    """The dialer process's hook: a Twilio carrier for each campaign it takes over, all on one REST client.

    Bad settings fail here, when the process starts, not at the first call.
    A campaign with ``record_calls`` has its calls recorded (Twilio's ``Record``).
    """
    sid, token, _public = _credentials(settings)
    client = make_client(sid, token, settings.twilio_api_url)
    shared_redis = redis if redis is not None else connect_redis(settings.redis_url)

    def build(campaign: Campaign) -> TwilioCarrier:
        return make_carrier(settings, campaign.id, shared_redis, client=client, record=bool(campaign.record_calls))

    return build


def _credentials(settings: Settings) -> tuple[str, str, str]:
    if settings.carrier != "twilio":
        raise CarrierSettingsError(
            f"DIALER_CARRIER is {settings.carrier!r}: only 'twilio' dials real calls from a dialer process"
        )
    sid, token, public = settings.twilio_account_sid, settings.twilio_auth_token, settings.public_base_url
    if not sid or not token or not public:
        raise CarrierSettingsError(
            "DIALER_CARRIER=twilio needs TWILIO_ACCOUNT_SID, TWILIO_AUTH_TOKEN and PUBLIC_BASE_URL"
        )
    return sid, token, public
