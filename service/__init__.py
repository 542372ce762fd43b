"""Voter eligibility service."""

import zoneinfo

# Time zones come from the pinned `tzdata` package, never from the host: zoneinfo looks in
# the system's tz directories first and a host with data older than 2024a would put most
# of Kazakhstan at UTC+6, moving every voting-day window by an hour. With no search path
# the package is zoneinfo's only source. Here, so that every entry point (API, voterctl,
# the compiler's worker processes, the mocks) imports it before any zone is built.
zoneinfo.reset_tzpath(to=())
zoneinfo.ZoneInfo.clear_cache()
