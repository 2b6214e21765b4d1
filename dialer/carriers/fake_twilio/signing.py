"""``X-Twilio-Signature``, computed the way Twilio computes it.

Written from the published algorithm rather than with the twilio library, so
that a test checking our signatures with ``twilio.request_validator`` compares
two independent implementations.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Mapping, Sequence


def twilio_signature(auth_token: str, url: str, params: Mapping[str, str | Sequence[str]]) -> str:
    """base64(HMAC-SHA1(token, url + each POST param's name and value, names sorted)).

    ``url`` is the full URL including any query string; for a GET webhook pass no
    params (they are already in the query). A repeated key contributes each of its
    values, sorted and without duplicates, as twilio-python does.
    """
    text = url
    for name in sorted(params):
        value = params[name]
        values = [value] if isinstance(value, str) else sorted(set(value))
        for item in values:
            text += name + item
    digest = hmac.new(auth_token.encode("utf-8"), text.encode("utf-8"), hashlib.sha1).digest()
    return base64.b64encode(digest).decode("ascii")
