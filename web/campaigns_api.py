"""``/api/campaigns`` lives in ``web.api.campaigns`` with the rest of the API; this name stays for the app factory."""

from web.api.campaigns import bp

__all__ = ["bp"]
