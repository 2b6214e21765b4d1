"""Everything that shapes one stand-in: the account, the world it plays, and its pace."""

from __future__ import annotations

from dataclasses import dataclass, field

from dialer.simulation.scenario import Scenario

DEFAULT_PRESS_SHARE = 0.02
DEFAULT_SAY_WORDS_PER_S = 2.5  # about 0.4 s a word, a calm recorded voice


@dataclass(frozen=True)
class FakeTwilioConfig:
    """Options of ``dialer fake-twilio``, one field per command-line option.

    ``cps`` of ``None`` takes the scenario's calls-per-second (1 by default, like a
    new Twilio account). ``caller_ids`` empty means any E.164 ``From`` is accepted;
    otherwise only those numbers are the account's own. ``agent_numbers`` are
    answered at once and never hang up by themselves, like an agent's phone.
    """

    account_sid: str
    auth_token: str
    host: str = "127.0.0.1"
    port: int = 0
    scenario: Scenario = field(default_factory=Scenario)
    seed: int = 1
    speed: float = 1.0
    cps: float | None = None
    max_queue: int | None = None
    caller_ids: tuple[str, ...] = ()
    agent_numbers: tuple[str, ...] = ()
    press_share: float = DEFAULT_PRESS_SHARE
    say_words_per_s: float = DEFAULT_SAY_WORDS_PER_S
    play_s: float = 5.0
    machine_hangup_s: float = 60.0
    webhook_workers: int = 16
    webhook_timeout_s: float = 15.0

    def __post_init__(self) -> None:
        if not self.speed > 0:
            raise ValueError(f"speed must be > 0, got {self.speed}")
        if self.cps is not None and not self.cps > 0:
            raise ValueError(f"cps must be > 0, got {self.cps}")
        if self.max_queue is not None and self.max_queue < 0:
            raise ValueError(f"max_queue must not be negative, got {self.max_queue}")
        if not 0.0 <= self.press_share <= 1.0:
            raise ValueError(f"press_share is a probability, got {self.press_share}")
        if not self.say_words_per_s > 0:
            raise ValueError(f"say_words_per_s must be > 0, got {self.say_words_per_s}")
        if self.webhook_workers < 1:
            raise ValueError(f"webhook_workers must be at least 1, got {self.webhook_workers}")
