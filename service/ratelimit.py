"""Per-subject request limits and bulk-read detection (SPEC §12).

Both are kept in this process's memory. With several replicas (or workers) each one limits
on its own, so the effective limit is N x the setting and a caller spread over the replicas
is seen N times less often by the bulk detector. That is accepted for now; a shared store
(Redis, or a PostgreSQL table) keyed the same way is the next step.

Everything here is touched from the event loop only, never from worker threads, so there is
no lock. Time comes from an injected monotonic ``now`` (seconds), never the service clock:
that one may stand still (``VOTER_CLOCK_FIXED``), and a window must keep moving.
"""

from __future__ import annotations

import math
import time
from collections import OrderedDict, deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Protocol

from service.domain.caller import Caller, Role
from service.errors import RateLimited
from service.logs import get_logger

MINUTE_SECONDS = 60.0
HOUR_SECONDS = 3600.0
# Bounds memory whatever the callers do; far above the number of real accounts.
MAX_TRACKED_KEYS = 100_000
NO_ROLE = "none"

Now = Callable[[], float]

_security_log = get_logger("service.security")


class SlidingWindowLimiter:
    """At most ``limit`` admissions per key in any ``window_seconds``-long interval.

    A sliding log: one timestamp per admission, at most ``limit`` of them per key. Keys are
    kept in least-recently-used order, so idle keys (nothing left in the window) are evicted
    from the front in constant amortised time, and past ``max_keys`` the oldest go first.
    """

    def __init__(
        self,
        *,
        window_seconds: float = MINUTE_SECONDS,
        max_keys: int = MAX_TRACKED_KEYS,
        now: Now = time.monotonic,
    ) -> None:
        if window_seconds <= 0 or max_keys < 1:
            raise ValueError("window_seconds and max_keys must be positive")
        self._window = window_seconds
        self._max_keys = max_keys
        self._now = now
        self._admissions: OrderedDict[str, deque[float]] = OrderedDict()

    def __len__(self) -> int:
        return len(self._admissions)

    def acquire(self, key: str, *, limit: int) -> int | None:
        """Admit one request: None when admitted, else whole seconds until a slot frees."""
        if limit < 1:
            raise ValueError("limit must be at least 1")
        now = self._now()
        horizon = now - self._window
        admissions = self._admissions
        if admissions:
            self._evict_idle(horizon)
        stamps = admissions.get(key)
        if stamps is None:
            stamps = admissions[key] = deque()
        else:
            admissions.move_to_end(key)
        while stamps and stamps[0] <= horizon:
            stamps.popleft()
        # The limit may have shrunk since the last call (a different role set).
        while len(stamps) > limit:
            stamps.popleft()
        if len(stamps) >= limit:
            return max(1, math.ceil(stamps[0] + self._window - now))
        stamps.append(now)
        return None

    def _evict_idle(self, horizon: float) -> None:
        admissions = self._admissions
        while admissions:
            key = next(iter(admissions))
            stamps = admissions[key]
            is_idle = not stamps or stamps[-1] <= horizon
            if not is_idle and len(admissions) < self._max_keys:
                return
            del admissions[key]


@dataclass
class _Lookups:
    started: float
    voters: set[str] = field(default_factory=set)
    alerted: bool = False


class DistinctLookupCounter:
    """Counts distinct looked-up voters per caller in windows of ``window_seconds``.

    Each caller's window opens with its first lookup and is reset once it has run out. The set
    of voters stops growing past ``threshold`` + 1: enough to know the threshold was crossed.
    """

    def __init__(
        self,
        *,
        threshold: int,
        window_seconds: float = HOUR_SECONDS,
        max_keys: int = MAX_TRACKED_KEYS,
        now: Now = time.monotonic,
    ) -> None:
        if threshold < 1 or window_seconds <= 0 or max_keys < 1:
            raise ValueError("threshold, window_seconds and max_keys must be positive")
        self._threshold = threshold
        self._window = window_seconds
        self._max_keys = max_keys
        self._now = now
        self._callers: OrderedDict[str, _Lookups] = OrderedDict()

    def __len__(self) -> int:
        return len(self._callers)

    def record(self, caller: str, voter: str) -> int | None:
        """Note one lookup; the distinct count the first time it crosses the threshold."""
        now = self._now()
        self._evict_expired(now)
        lookups = self._callers.get(caller)
        if lookups is None or now - lookups.started >= self._window:
            lookups = _Lookups(started=now)
        self._callers[caller] = lookups
        self._callers.move_to_end(caller)
        if len(lookups.voters) <= self._threshold:
            lookups.voters.add(voter)
        if len(lookups.voters) > self._threshold and not lookups.alerted:
            lookups.alerted = True
            return len(lookups.voters)
        return None

    def _evict_expired(self, now: float) -> None:
        while self._callers:
            caller, lookups = next(iter(self._callers.items()))
            is_expired = now - lookups.started >= self._window
            if not is_expired and len(self._callers) < self._max_keys:
                return
            del self._callers[caller]


class RateLimitObserver(Protocol):
    def count_rate_limited(self, *, role: str) -> None: ...


class BulkLookupObserver(Protocol):
    def count_bulk_lookup_alert(self) -> None: ...


def _limit_for(
    roles: Iterable[Role], *, per_subject: int, per_role: Mapping[Role, int]
) -> tuple[int, str]:
    """The most generous of the caller's roles, capped by the per-subject limit."""
    granted = [(min(per_role.get(role, per_subject), per_subject), role.value) for role in roles]
    return max(granted, default=(per_subject, NO_ROLE))


class RequestLimits:
    """Admits an authenticated caller or raises ``RateLimited`` (logged and counted)."""

    def __init__(
        self,
        *,
        per_subject_per_minute: int,
        per_role_per_minute: Mapping[str, int],
        observer: RateLimitObserver,
        now: Now = time.monotonic,
    ) -> None:
        known = {role.value: role for role in Role}
        unknown = sorted(set(per_role_per_minute) - set(known))
        if unknown:
            raise ValueError(f"VOTER_RATE_LIMIT_PER_ROLE names unknown roles: {unknown}")
        self._per_subject = per_subject_per_minute
        self._per_role = {known[name]: limit for name, limit in per_role_per_minute.items()}
        self._observer = observer
        self._window = SlidingWindowLimiter(window_seconds=MINUTE_SECONDS, now=now)
        # The limit of each role set seen: at most one entry per subset of ``Role``.
        self._limits: dict[frozenset[Role], tuple[int, str]] = {}

    def admit(self, caller: Caller) -> None:
        roles = caller.roles
        granted = self._limits.get(roles)
        if granted is None:
            granted = self._limits[roles] = _limit_for(
                roles, per_subject=self._per_subject, per_role=self._per_role
            )
        limit, role = granted
        retry_after = self._window.acquire(caller.subject, limit=limit)
        if retry_after is None:
            return
        _security_log.warning(
            "security.rate_limited", sub=caller.subject, role=role, limit_per_minute=limit
        )
        self._observer.count_rate_limited(role=role)
        raise RateLimited(retry_after_seconds=retry_after)


class BulkLookupWatch:
    """Raises the alarm when one account looks up too many distinct voters in an hour.

    It only ever sees pseudonyms (``v1:`` HMAC subjects), never IINs, and logs none of them.
    """

    def __init__(
        self, *, threshold: int, observer: BulkLookupObserver, now: Now = time.monotonic
    ) -> None:
        self._counter = DistinctLookupCounter(
            threshold=threshold, window_seconds=HOUR_SECONDS, now=now
        )
        self._observer = observer

    def looked_up(self, *, caller: str, voter_subject: str) -> None:
        count = self._counter.record(caller, voter_subject)
        if count is None:
            return
        _security_log.warning("security.bulk_lookup", sub=caller, distinct_voters=count)
        self._observer.count_bulk_lookup_alert()
