"""The account's calls-per-second budget, shared by every dialer process through Redis.

Twilio queues calls over the account's limit without a word, so calls the
engine believes are ringing may not start for many seconds.  Every process
that dials on the account takes one token per call from one bucket, refilled
at the account's rate; the pacer is told the rate, and a call without a token
is not placed.

The bucket is a Lua script, so that reading, refilling and taking are one
atomic step on the server, with the server's clock (``TIME``): processes on
different machines then agree on time.  The in-process Redis stand-in runs
Lua only when the optional ``lupa`` package is there; without it the same
arithmetic runs as an optimistic transaction (``WATCH``/``MULTI``), which is
atomic too.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, NamedTuple

if TYPE_CHECKING:
    import redis

DEFAULT_CPS = 1.0  # a Twilio account's default
KEY_PREFIX = "dialer:cps:"

# KEYS[1] bucket; ARGV: rate per second, capacity, tokens wanted.
# Returns {granted, seconds until the next whole token (as a string: Lua floats become integers)}.
_TAKE = """
local rate = tonumber(ARGV[1])
local capacity = tonumber(ARGV[2])
local want = tonumber(ARGV[3])
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local state = redis.call('HMGET', KEYS[1], 'tokens', 'ts')
local tokens = tonumber(state[1])
local ts = tonumber(state[2])
if tokens == nil or ts == nil then
  tokens = capacity
  ts = now
end
if now > ts then
  tokens = math.min(capacity, tokens + (now - ts) * rate)
  ts = now
end
local granted = math.min(want, math.floor(tokens + 1e-9))
if granted < 0 then granted = 0 end
tokens = tokens - granted
local wait = 0
if granted < want then
  wait = (1 - tokens) / rate
end
redis.call('HSET', KEYS[1], 'tokens', string.format('%.9f', tokens), 'ts', string.format('%.6f', ts))
redis.call('PEXPIRE', KEYS[1], math.ceil(capacity / rate * 1000) + 60000)
return {granted, string.format('%.6f', wait)}
"""


class Grant(NamedTuple):
    granted: int
    retry_after_s: float  # when short: seconds until the next token; 0 when all were granted


class CpsBucket:
    """A token bucket of ``rate`` tokens a second holding at most ``burst`` (default: one second's worth)."""

    def __init__(self, client: redis.Redis, *, rate: float = DEFAULT_CPS, burst: float | None = None,
                 name: str = "account") -> None:
        if rate <= 0:
            raise ValueError("the calls-per-second rate must be positive")
        self.client = client
        self._rate = float(rate)
        self.capacity = float(burst) if burst is not None else max(1.0, self._rate)
        if self.capacity < 1:
            raise ValueError("the burst must hold at least one call")
        self.key = f"{KEY_PREFIX}{name}"
        self._script = client.register_script(_TAKE)
        self._lua: bool | None = None  # unknown until the first take

    @property
    def rate(self) -> float:
        return self._rate

    def acquire(self, n: int = 1) -> int:
        """Take up to ``n`` tokens now; returns how many were granted (0..n)."""
        return self.take(n).granted

    def take(self, n: int = 1) -> Grant:
        """Take up to ``n`` tokens now, and say how long until the next one when short."""
        if n <= 0:
            return Grant(0, 0.0)
        if self._lua is not False:
            try:
                granted, wait = self._script(keys=[self.key], args=[repr(self._rate), repr(self.capacity), n])
                self._lua = True
                return Grant(int(granted), float(_text(wait)))
            except Exception as error:
                if self._lua or not _no_scripting(error):
                    raise
                self._lua = False
        return self._take_in_transaction(n)

    def _take_in_transaction(self, n: int) -> Grant:
        """The script's arithmetic as a WATCH/MULTI transaction, for servers without Lua."""
        import redis

        while True:
            with self.client.pipeline() as pipe:
                try:
                    pipe.watch(self.key)
                    seconds, micros = pipe.time()
                    now = float(seconds) + float(micros) / 1_000_000
                    raw_tokens, raw_ts = pipe.hmget(self.key, ["tokens", "ts"])
                    if raw_tokens is None or raw_ts is None:
                        tokens, ts = self.capacity, now
                    else:
                        tokens, ts = float(_text(raw_tokens)), float(_text(raw_ts))
                    if now > ts:
                        tokens = min(self.capacity, tokens + (now - ts) * self._rate)
                        ts = now
                    granted = max(0, min(n, math.floor(tokens + 1e-9)))
                    tokens -= granted
                    wait = (1 - tokens) / self._rate if granted < n else 0.0
                    pipe.multi()
                    pipe.hset(self.key, mapping={"tokens": f"{tokens:.9f}", "ts": f"{ts:.6f}"})
                    pipe.pexpire(self.key, math.ceil(self.capacity / self._rate * 1000) + 60000)
                    pipe.execute()
                    return Grant(granted, wait)
                except redis.WatchError:
                    continue  # another process took tokens meanwhile: read again


def _no_scripting(error: Exception) -> bool:
    text = str(error).lower()
    return "unknown command" in text and ("eval" in text or "script" in text)


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)
