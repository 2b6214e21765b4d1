"""The pacers every dialer has: preview, progressive, and a fixed ratio (power)."""

from __future__ import annotations

import math

from dialer.pacing import Observation, PacerError, PacerEvent, register_pacer


class _NoLearning:
    def observe(self, event: PacerEvent) -> None:
        """These pacers act on the floor's state alone."""


class ProgressivePacer(_NoLearning):
    """One call in flight per free agent: never abandons when every answer finds its agent."""

    name = "progressive"
    agent_bound = False

    def calls_to_place(self, obs: Observation) -> int:
        return max(0, obs.ready - obs.in_flight - obs.waiting)


class PreviewPacer(_NoLearning):
    """Each free agent gets one call of their own, placed for them and bound to them."""

    name = "preview"
    agent_bound = True

    def calls_to_place(self, obs: Observation) -> int:
        return max(0, obs.ready - obs.waiting)


class RatioPacer(_NoLearning):
    """Power dialing: keep ``ratio`` lines per free agent.

    Lines are counted the VICIdial way: calls dialing or ringing, set against
    agents who are ready. Calls answered and waiting count too, since each
    will take a free agent.
    """

    agent_bound = False

    def __init__(self, ratio: float) -> None:
        if not math.isfinite(ratio) or ratio < 1.0 or ratio > 10.0:
            raise PacerError(f"ratio must be between 1.0 and 10.0, got {ratio}")
        self.ratio = ratio
        self.name = f"ratio:{ratio:g}"

    def calls_to_place(self, obs: Observation) -> int:
        target = math.floor(obs.ready * self.ratio + 1e-9)
        return max(0, target - obs.in_flight - obs.waiting)


def _ratio(arg: str | None) -> RatioPacer:
    if arg is None:
        raise PacerError("ratio needs a value, e.g. ratio:1.8")
    try:
        value = float(arg)
    except ValueError as exc:
        raise PacerError(f"ratio must be a number, got {arg!r}") from exc
    return RatioPacer(value)


def _progressive(arg: str | None) -> ProgressivePacer:
    _no_argument("progressive", arg)
    return ProgressivePacer()


def _preview(arg: str | None) -> PreviewPacer:
    _no_argument("preview", arg)
    return PreviewPacer()


def _no_argument(name: str, arg: str | None) -> None:
    if arg is not None:
        raise PacerError(f"pacer {name!r} takes no argument, got {arg!r}")


class OraclePacer(PreviewPacer):
    """The ceiling, for benchmarks only: one call per free agent, placed knowing who will answer.

    It is a pacer like preview on the engine's side; what makes it an oracle
    is the simulated carrier's oracle mode, which ``dialer simulate`` turns on
    for it. On a real carrier it would be plain preview dialing.
    """

    name = "oracle"


def _oracle(arg: str | None) -> OraclePacer:
    _no_argument("oracle", arg)
    return OraclePacer()


register_pacer("oracle", _oracle)
register_pacer("progressive", _progressive)
register_pacer("preview", _preview)
register_pacer("ratio", _ratio)
