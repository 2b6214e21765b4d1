"""The rules of law as dated data, shipped with the package.

Each JSON file holds rules (``us_federal.json``, ``us_states.json``,
``international.json``, ``policy.json``), the holiday calendars they name
(``holidays.json``) or where a called party may be (``zones.json``);
``manifest.json`` names them and gives the rule-set version.
``compliance.ruleset`` loads and checks them; nothing here is code.
"""

from __future__ import annotations

import json
from importlib import resources
from typing import Any


def read_bytes(name: str) -> bytes:
    """The raw bytes of one data file of this package."""
    return resources.files(__name__).joinpath(name).read_bytes()


def load(name: str) -> Any:
    """One data file of this package, parsed."""
    return json.loads(read_bytes(name))
