"""Pacers by name, and the arithmetic of preview, progressive and fixed-ratio dialing."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

import dialer.pacing as pacing
from dialer.pacing import Observation, Pacer, PacerError, PacerEvent, make_pacer, pacer_names, register_pacer
from dialer.pacing.basic import PreviewPacer, ProgressivePacer, RatioPacer

REPO = Path(__file__).resolve().parent.parent


def observation(
    *,
    ready: int = 0,
    queued: int = 0,
    dialing: int = 0,
    waiting: int = 0,
    reserved: int = 0,
    on_call: int = 0,
    wrap_up: int = 0,
    paused: int = 0,
) -> Observation:
    return Observation(
        now=1000.0,
        agents=(),
        calls=(),
        ready=ready,
        reserved=reserved,
        on_call=on_call,
        wrap_up=wrap_up,
        paused=paused,
        working=ready + reserved + on_call + wrap_up,
        queued=queued,
        dialing=dialing,
        waiting=waiting,
        cps_limit=1.0,
        target_abandon=0.03,
        tick_s=1.0,
    )


counts = st.integers(0, 60)


@st.composite
def observations(draw: st.DrawFn) -> Observation:
    return observation(
        ready=draw(counts),
        queued=draw(counts),
        dialing=draw(counts),
        waiting=draw(counts),
        reserved=draw(counts),
        on_call=draw(counts),
        wrap_up=draw(counts),
        paused=draw(counts),
    )


# --- by name -------------------------------------------------------------------------------------


def test_the_builtin_pacers_are_known_by_name() -> None:
    assert {"preview", "progressive", "ratio"} <= set(pacer_names())
    assert pacer_names() == sorted(pacer_names())


def test_progressive_and_preview_are_built_by_name() -> None:
    progressive = make_pacer("progressive")
    assert isinstance(progressive, ProgressivePacer)
    assert (progressive.name, progressive.agent_bound) == ("progressive", False)
    preview = make_pacer("preview")
    assert isinstance(preview, PreviewPacer)
    assert (preview.name, preview.agent_bound) == ("preview", True)


@pytest.mark.parametrize(
    ("spec", "ratio", "name"),
    [
        ("ratio:1.8", 1.8, "ratio:1.8"),
        ("ratio:2", 2.0, "ratio:2"),
        ("ratio:2.50", 2.5, "ratio:2.5"),
        ("ratio:1", 1.0, "ratio:1"),
        ("ratio:10", 10.0, "ratio:10"),
        ("  ratio:1.5  ", 1.5, "ratio:1.5"),
    ],
)
def test_a_ratio_pacer_takes_its_ratio_after_a_colon(spec: str, ratio: float, name: str) -> None:
    pacer = make_pacer(spec)
    assert isinstance(pacer, RatioPacer)
    assert (pacer.ratio, pacer.name, pacer.agent_bound) == (ratio, name, False)


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("ratio", "needs a value"),
        ("ratio:", "needs a value"),
        ("ratio:abc", "must be a number"),
        ("ratio:0.5", "between 1.0 and 10.0"),
        ("ratio:0.999", "between 1.0 and 10.0"),
        ("ratio:10.01", "between 1.0 and 10.0"),
        ("ratio:-2", "between 1.0 and 10.0"),
        ("ratio:nan", "between 1.0 and 10.0"),
        ("ratio:inf", "between 1.0 and 10.0"),
        ("progressive:3", "takes no argument"),
        ("preview:x", "takes no argument"),
        ("predictive-magic", "unknown pacer"),
        ("Progressive", "unknown pacer"),
        ("", "unknown pacer"),
    ],
)
def test_a_bad_pacer_spec_is_a_pacer_error_that_says_why(spec: str, message: str) -> None:
    with pytest.raises(PacerError, match=message):
        make_pacer(spec)


def test_an_unknown_pacer_error_lists_the_known_names_and_is_a_value_error() -> None:
    with pytest.raises(ValueError, match=r"known: .*preview.*progressive.*ratio"):
        make_pacer("nope")


def test_each_make_pacer_call_builds_a_fresh_pacer() -> None:
    assert make_pacer("progressive") is not make_pacer("progressive")


# --- outside pacers ------------------------------------------------------------------------------


class EchoPacer:
    agent_bound = False

    def __init__(self, arg: str | None) -> None:
        self.arg = arg
        self.name = f"echo:{arg}"
        self.events: list[PacerEvent] = []

    def observe(self, event: PacerEvent) -> None:
        self.events.append(event)

    def calls_to_place(self, obs: Observation) -> int:
        return obs.ready * 3


@pytest.fixture
def registry(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Register freely: the registry is put back afterwards."""
    pacer_names()  # builtins loaded
    monkeypatch.setattr(pacing, "_REGISTRY", dict(pacing._REGISTRY))
    yield


@pytest.mark.usefixtures("registry")
def test_an_outside_pacer_plugs_in_by_name_and_gets_its_argument() -> None:
    seen: list[str | None] = []

    def factory(arg: str | None) -> Pacer:
        seen.append(arg)
        return EchoPacer(arg)

    register_pacer("echo", factory)
    assert "echo" in pacer_names()
    with_arg = make_pacer("echo:loud")
    without = make_pacer("echo")
    assert seen == ["loud", None]
    assert isinstance(with_arg, EchoPacer) and with_arg.arg == "loud"
    assert without.calls_to_place(observation(ready=2)) == 6
    assert isinstance(make_pacer("progressive"), ProgressivePacer)  # the builtins stay


@pytest.mark.usefixtures("registry")
def test_registering_a_name_again_replaces_the_factory() -> None:
    register_pacer("echo", EchoPacer)
    register_pacer("echo", lambda arg: ProgressivePacer())
    assert isinstance(make_pacer("echo"), ProgressivePacer)


def test_an_outside_pacer_registered_before_any_builtin_is_used_leaves_the_builtins_available() -> None:
    # a fresh interpreter that has not imported dialer.pacing.basic, as when a plug-in module is loaded first
    script = textwrap.dedent(
        """
        from dialer.pacing import make_pacer, pacer_names, register_pacer

        class Mine:
            name = "mine"
            agent_bound = False
            def observe(self, event): pass
            def calls_to_place(self, obs): return 0

        register_pacer("mine", lambda arg: Mine())
        assert isinstance(make_pacer("mine"), Mine)
        assert type(make_pacer("progressive")).__name__ == "ProgressivePacer", pacer_names()
        """
    )
    done = subprocess.run([sys.executable, "-c", script], cwd=REPO, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr


# --- arithmetic ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("obs", "expected"),
    [
        (observation(ready=0), 0),
        (observation(ready=5), 5),
        (observation(ready=5, queued=1), 4),
        (observation(ready=5, dialing=2), 3),
        (observation(ready=5, waiting=1), 4),
        (observation(ready=5, queued=1, dialing=1, waiting=1), 2),
        (observation(ready=2, dialing=3), 0),
        (observation(ready=1, waiting=4), 0),
        (observation(ready=0, on_call=10, wrap_up=5, reserved=3), 0),
    ],
)
def test_progressive_places_one_call_in_flight_per_ready_agent(obs: Observation, expected: int) -> None:
    assert ProgressivePacer().calls_to_place(obs) == expected


@pytest.mark.parametrize(
    ("obs", "expected"),
    [
        (observation(ready=0), 0),
        (observation(ready=3), 3),
        (observation(ready=3, waiting=1), 2),
        (observation(ready=1, waiting=3), 0),
        # each call in flight was placed for an agent who is now reserved for it, not ready
        (observation(ready=3, reserved=4, dialing=4), 3),
    ],
)
def test_preview_places_one_call_per_ready_agent_less_the_people_waiting(obs: Observation, expected: int) -> None:
    assert PreviewPacer().calls_to_place(obs) == expected


@pytest.mark.parametrize(
    ("ratio", "obs", "expected"),
    [
        (2.0, observation(ready=3), 6),
        (2.0, observation(ready=3, dialing=4), 2),
        (2.0, observation(ready=3, queued=2, dialing=2, waiting=1), 1),
        (2.0, observation(ready=3, dialing=9), 0),
        (1.5, observation(ready=3), 4),  # 4.5 lines round down
        (1.5, observation(ready=1), 1),
        (4.1, observation(ready=30), 123),  # 122.99999999999999 in floating point is still 123 lines
        (1.1, observation(ready=10), 11),
        (1.0, observation(ready=4, dialing=1), 3),
        (10.0, observation(ready=2, waiting=5), 15),
        (3.0, observation(ready=0, dialing=0), 0),
    ],
)
def test_a_ratio_pacer_keeps_ratio_lines_per_ready_agent(ratio: float, obs: Observation, expected: int) -> None:
    assert RatioPacer(ratio).calls_to_place(obs) == expected


@given(observations())
def test_no_builtin_pacer_ever_asks_for_a_negative_number_of_calls(obs: Observation) -> None:
    for spec in ("progressive", "preview", "ratio:1", "ratio:1.7", "ratio:10"):
        assert make_pacer(spec).calls_to_place(obs) >= 0


@given(observations(), st.floats(1.0, 10.0))
def test_progressive_fills_up_to_one_line_per_ready_agent_and_ratio_to_its_ratio(
    obs: Observation, ratio: float
) -> None:
    busy = obs.in_flight + obs.waiting
    progressive = ProgressivePacer().calls_to_place(obs)
    assert progressive == max(0, obs.ready - busy)
    ratio_calls = RatioPacer(ratio).calls_to_place(obs)
    lines = ratio_calls + busy
    assert lines >= busy
    if ratio_calls > 0:
        assert obs.ready * ratio - 1 < lines <= obs.ready * ratio + 1e-6
    assert ratio_calls >= progressive
    assert RatioPacer(1.0).calls_to_place(obs) == progressive


@given(observations(), st.integers(0, 5))
def test_more_ready_agents_never_means_fewer_calls(obs: Observation, extra: int) -> None:
    more = observation(ready=obs.ready + extra, queued=obs.queued, dialing=obs.dialing, waiting=obs.waiting)
    for pacer in (ProgressivePacer(), PreviewPacer(), RatioPacer(2.5)):
        assert pacer.calls_to_place(more) >= pacer.calls_to_place(obs)


def test_the_basic_pacers_do_not_learn_from_events() -> None:
    obs = observation(ready=4, dialing=1)
    for pacer in (ProgressivePacer(), PreviewPacer(), RatioPacer(2.0)):
        before = pacer.calls_to_place(obs)
        for kind in ("placed", "answered", "abandoned", "ended"):
            pacer.observe(PacerEvent(kind, 1.0, call_id="c1"))
        assert pacer.calls_to_place(obs) == before


def test_in_flight_counts_queued_and_dialing_calls_but_not_waiting_ones() -> None:
    assert observation(queued=2, dialing=3, waiting=7).in_flight == 5
