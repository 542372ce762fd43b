"""The roll benchmark's records of the ways onto a list (SPEC §15), made through the use cases.

Run by ``bench/roll.py`` after the reference data is loaded and before the compile, with the
service's environment (database, keys, both mocks): it picks voters from the generated
country and makes, as operators would, through ``service.list_records.make_records``:

- presence lists: ``PRESENCE_PER_SPECIAL`` voters on each special precinct the election is
  held at (no figure is published; about 63,000 at the 632 special precincts of 2026);
- absentee certificates for ``CERTIFICATE_RATE`` of the voters (17,514 were issued for the
  2026 referendum's ~12 million voters);
- place-of-stay applications for ``STAY_RATE`` of the voters (assumed: no published figure),
  each naming a permanent address of the country as the place of stay;
- mission applications: ``MISSION_PER_MISSION`` voters at each mission (assumed).

The voters are adults on voting day drawn from the population file at random (``--seed``),
none twice; the rules decide, so some are refused (a bar, or no precinct for an absentee
certificate) and the tally printed at the end says how many of each kind were made.

Usage: python -m bench.list_records --data DIR --election ID [--seed 1] [--concurrency 8]
"""

from __future__ import annotations

import argparse
import datetime as dt
import random
import time
from pathlib import Path

import orjson

from service.config import Settings
from service.datafiles import ElectionRecord, PrecinctRecord, RegistrationRecord, iter_records
from service.domain.model import PrecinctKind, RegistrationKind
from service.list_records import ListRecordPlan, make_records, stay_address
from service.security.tokens import generate_dev_keypair

PRESENCE_PER_SPECIAL = 100
CERTIFICATE_RATE = 17_514 / 12_000_000
STAY_RATE = 0.005
MISSION_PER_MISSION = 100
# One adult in SAMPLE_EVERY is a candidate: more than all the kinds above take together.
SAMPLE_EVERY = 40
STAY_ADDRESSES = 2_000


def _adults(population: Path, *, born_by: str) -> tuple[list[str], int]:
    """Every SAMPLE_EVERY-th adult's IIN, and how many adults there are."""
    candidates: list[str] = []
    adults = 0
    with population.open("rb") as handle:
        for line in handle:
            if not line.strip():
                continue
            person = orjson.loads(line)
            if person["birth_date"] > born_by:
                continue
            adults += 1
            if adults % SAMPLE_EVERY == 0:
                candidates.append(person["iin"])
    return candidates, adults


def plan_for(data: Path, *, election_id: str, seed: int) -> tuple[ListRecordPlan, dt.date, int]:
    """The records to make, the voting day, and the number of adults they were drawn from."""
    election = next(
        r.to_domain()
        for _, r in iter_records(data / "elections.jsonl", ElectionRecord)
        if r.id == election_id
    )
    held = [
        p
        for p in (r.to_domain() for _, r in iter_records(data / "precincts.jsonl", PrecinctRecord))
        if election.holds(p)
    ]
    special = sorted(p.id for p in held if p.kind is PrecinctKind.SPECIAL)
    missions = sorted(p.id for p in held if p.kind is PrecinctKind.FOREIGN)
    day = election.voting_day
    born_by = day.replace(year=day.year - 18).isoformat()
    candidates, adults = _adults(data / "population.jsonl", born_by=born_by)
    random.Random(seed).shuffle(candidates)
    stays = []
    for _, registration in iter_records(data / "registrations.jsonl", RegistrationRecord):
        if registration.kind is RegistrationKind.PERMANENT and registration.kato:
            stays.append(stay_address(registration.to_domain()))
        if len(stays) >= STAY_ADDRESSES:
            break

    def take(n: int) -> list[str]:
        taken = candidates[:n]
        del candidates[:n]
        return taken

    # The rates first; the presence lists, the largest part, take what is left in a small
    # country.
    certificates = take(round(adults * CERTIFICATE_RATE))
    stayers = take(round(adults * STAY_RATE))
    at_missions = [(iin, m) for m in missions for iin in take(MISSION_PER_MISSION)]
    presence = {precinct: take(PRESENCE_PER_SPECIAL) for precinct in special}
    plan = ListRecordPlan(
        stays=[(iin, stays[i % len(stays)]) for i, iin in enumerate(stayers)],
        presence={p: iins for p, iins in presence.items() if iins},
        certificates=certificates,
        missions=at_missions,
    )
    return plan, day, adults


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--election", required=True)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--concurrency", type=int, default=8)
    args = parser.parse_args()
    started = time.monotonic()
    plan, voting_day, adults = plan_for(args.data, election_id=args.election, seed=args.seed)
    planned = (
        sum(len(iins) for iins in plan.presence.values())
        + len(plan.certificates)
        + len(plan.stays)
        + len(plan.missions)
    )
    print(
        f"list records: {planned} planned among {adults} adults "
        f"(chosen in {time.monotonic() - started:.0f} s)",
        flush=True,
    )
    started = time.monotonic()
    settings = Settings()
    if not settings.jwt_public_keys:
        # No token is verified here (the use cases are called directly), but the services
        # are built whole, the verifier with them.
        settings = settings.model_copy(
            update={"jwt_public_keys": {"bench": generate_dev_keypair()[1]}}
        )
    tally = make_records(
        settings,
        plan,
        election_id=args.election,
        voting_day=voting_day,
        concurrency=args.concurrency,
        label="bench",
    )
    print(f"list records: made in {time.monotonic() - started:.0f} s", flush=True)
    for outcome, count in sorted(tally.items()):
        print(f"  {outcome:<50} {count:>8}")


if __name__ == "__main__":
    main()
