"""What commands that read the dialer's records share: the database, and the campaign asked for."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import Engine

from campaigns import services
from campaigns.db import ensure_schema, make_engine, make_session_factory
from campaigns.settings import get_settings


@contextmanager
def campaign_database(campaign_ref: str | None) -> Iterator[tuple[Engine, int | None]]:
    """The database of DATABASE_URL, brought up to date, and the id of ``campaign_ref`` (None: all).

    An unknown campaign raises the service's CampaignNotFound, which the CLI reports in one line.
    """
    url = get_settings().database_url
    ensure_schema(url)
    engine = make_engine(url)
    try:
        campaign_id = None
        if campaign_ref is not None:
            with make_session_factory(engine)() as session:
                campaign_id = services.get_campaign(session, campaign_ref).id
        yield engine, campaign_id
    finally:
        engine.dispose()
