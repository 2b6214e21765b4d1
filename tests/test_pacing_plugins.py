"""Outside packages register pacers through an entry-point group, and `dialer simulate` finds them."""

from __future__ import annotations

from importlib.metadata import EntryPoint
from typing import Any

import pytest

import dialer.pacing as pacing
from dialer.pacing.basic import ProgressivePacer


class CarefulPacer(ProgressivePacer):
    name = "careful"


def careful(arg: str | None) -> CarefulPacer:
    return CarefulPacer()


def fake_entry_points(**kwargs: Any) -> list[EntryPoint]:
    assert kwargs == {"group": pacing.ENTRY_POINT_GROUP}
    return [
        EntryPoint("careful", f"{__name__}:careful", pacing.ENTRY_POINT_GROUP),
        EntryPoint("broken", "no.such.module:factory", pacing.ENTRY_POINT_GROUP),
    ]


def test_a_pacer_declared_by_another_package_is_found_by_name(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("importlib.metadata.entry_points", fake_entry_points)
    monkeypatch.setattr(pacing, "_plugins_loaded", False)
    monkeypatch.setattr(pacing, "_REGISTRY", dict(pacing._REGISTRY))
    pacer = pacing.make_pacer("careful")
    assert pacer.name == "careful"
    assert "broken" not in pacing.pacer_names()  # skipped with a warning, not fatal
    assert "progressive" in pacing.pacer_names()
