"""Per-subject request limits, bulk-read detection and account holds (SPEC §12).

The limits of each role are ``service.domain.limits``' table. The counts are kept in this
process's memory: with several replicas (or workers) each one counts on its own, so the
effective limit is N x the setting and a caller spread over the replicas crosses the
distinct-voter threshold on one of them later. The holds that crossing places are not
per process: they are stored in the database, and every replica refuses a held account
(``service.db.holds.HeldAccountsCache``).

Everything here is touched from the event loop only, never from worker threads, so there is
no lock. Time comes from an injected monotonic ``now`` (seconds), never the service clock:
that one may stand still (``VOTER_CLOCK_FIXED``), and a window must keep moving.
"""

from __future__ import annotations

import math
import time
from collections import OrderedDict, deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Protocol

from service.domain.caller import Caller, Role
from service.domain.limits import RoleLimits, governing_role
from service.errors import AccountHeld, RateLimited
from service.logs import get_logger
from service.usecases.account_holds import AccountHoldService

MINUTE_SECONDS = 60.0
HOUR_SECONDS = 3600.0
# Bounds memory whatever the callers do; far above the number of real accounts.
MAX_TRACKED_KEYS = 100_000

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
    settled: bool = False


class DistinctLookupCounter:
    """Counts distinct looked-up voters per caller in windows of ``window_seconds``.

    Each caller's window opens with its first lookup and is reset once it has run out, or
    when ``forget`` drops it. The set of voters stops growing past the caller's threshold
    + 1: enough to know the threshold was crossed.
    """

    def __init__(
        self,
        *,
        window_seconds: float = HOUR_SECONDS,
        max_keys: int = MAX_TRACKED_KEYS,
        now: Now = time.monotonic,
    ) -> None:
        if window_seconds <= 0 or max_keys < 1:
            raise ValueError("window_seconds and max_keys must be positive")
        self._window = window_seconds
        self._max_keys = max_keys
        self._now = now
        self._callers: OrderedDict[str, _Lookups] = OrderedDict()

    def __len__(self) -> int:
        return len(self._callers)

    def record(self, caller: str, voter: str, *, threshold: int) -> int | None:
        """Note one lookup; the distinct count while it is over ``threshold`` and the
        crossing has not been ``settle``d in this window."""
        now = self._now()
        self._evict_expired(now)
        lookups = self._callers.get(caller)
        if lookups is None or now - lookups.started >= self._window:
            lookups = _Lookups(started=now)
        self._callers[caller] = lookups
        self._callers.move_to_end(caller)
        if len(lookups.voters) <= threshold:
            lookups.voters.add(voter)
        if len(lookups.voters) > threshold and not lookups.settled:
            return len(lookups.voters)
        return None

    def settle(self, caller: str) -> None:
        """The crossing is dealt with: say nothing more of it until the window runs out."""
        lookups = self._callers.get(caller)
        if lookups is not None:
            lookups.settled = True

    def forget(self, caller: str) -> None:
        """Drop the caller's window: the next lookup opens a new one."""
        self._callers.pop(caller, None)

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
    def count_account_hold(self, *, role: str) -> None: ...


class _GoverningRoles:
    """The governing role of each role set seen: at most one entry per subset of ``Role``."""

    def __init__(self, table: Mapping[Role, RoleLimits]) -> None:
        self._table = table
        self._chosen: dict[frozenset[Role], tuple[str, RoleLimits]] = {}

    def of(self, caller: Caller) -> tuple[str, RoleLimits]:
        chosen = self._chosen.get(caller.roles)
        if chosen is None:
            chosen = self._chosen[caller.roles] = governing_role(caller.roles, self._table)
        return chosen


class RequestLimits:
    """Admits an authenticated caller or raises ``RateLimited`` (logged and counted)."""

    def __init__(
        self,
        *,
        table: Mapping[Role, RoleLimits],
        observer: RateLimitObserver,
        now: Now = time.monotonic,
    ) -> None:
        self._roles = _GoverningRoles(table)
        self._observer = observer
        self._window = SlidingWindowLimiter(window_seconds=MINUTE_SECONDS, now=now)

    def admit(self, caller: Caller) -> None:
        role, limits = self._roles.of(caller)
        limit = limits.per_minute
        retry_after = self._window.acquire(caller.subject, limit=limit)
        if retry_after is None:
            return
        _security_log.warning(
            "security.rate_limited", sub=caller.subject, role=role, limit_per_minute=limit
        )
        self._observer.count_rate_limited(role=role)
        raise RateLimited(retry_after_seconds=retry_after)


class BulkLookupGuard:
    """Refuses a held account's voter look-ups, and holds an account that looks up more
    distinct voters in an hour than its role allows (alerting either way).

    It only ever sees pseudonyms (``v1:`` HMAC subjects), never IINs, and logs none of them.
    A role that is never held (the e-gov front end) is alerted on once per window. A held
    account's window is dropped: once the hold is lifted it starts again from nothing,
    here and on every replica that refused it meanwhile.
    """

    def __init__(
        self,
        *,
        table: Mapping[Role, RoleLimits],
        holds: AccountHoldService,
        observer: BulkLookupObserver,
        now: Now = time.monotonic,
    ) -> None:
        self._roles = _GoverningRoles(table)
        self._holds = holds
        self._counter = DistinctLookupCounter(window_seconds=HOUR_SECONDS, now=now)
        self._observer = observer

    async def admit(self, *, caller: Caller, voter_subject: str) -> None:
        account = caller.subject
        if await self._holds.is_held(account):
            self._counter.forget(account)
            _security_log.warning("security.account_held.refused", sub=account)
            raise AccountHeld
        role, limits = self._roles.of(caller)
        threshold = limits.hold_after_voters
        count = self._counter.record(account, voter_subject, threshold=threshold)
        if count is None:
            return
        if not limits.holds:
            self._counter.settle(account)
            self._alert(account, role=role, count=count)
            return
        # Recorded first: if that fails this raises, and the next look-up tries again.
        placed = await self._holds.place(
            account=account, role=role, distinct_voters=count, threshold=threshold
        )
        self._counter.forget(account)
        self._alert(account, role=role, count=count)
        if placed is not None:
            self._observer.count_account_hold(role=role)
        raise AccountHeld

    def _alert(self, account: str, *, role: str, count: int) -> None:
        _security_log.warning("security.bulk_lookup", sub=account, role=role, distinct_voters=count)
        self._observer.count_bulk_lookup_alert()
