"""The synthetic country: the four SPEC §10 data files plus one sample IIN per outcome.

People are streamed to disk in fixed-size chunks, so memory holds the geography only. Each
chunk has its own seed and its own block of IIN serials, so several processes can make
chunks at once and the files are still the same bytes for the same arguments.
"""

from __future__ import annotations

import datetime as dt
import multiprocessing
import os
import tempfile
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from random import Random
from typing import Any

import orjson

from service.datagen.geography import Geography, InstitutionKind, build_geography
from service.datagen.iins import SERIALS_PER_HEAD
from service.datagen.output import DirectFile
from service.datagen.people import MIN_PERSONS, PopulationTables, PopulationWriter, Sink
from service.domain.model import Election, ElectionKind, Precinct, PrecinctKind

# The first election is the demo's default and the one samples.json refers to. The
# referendum falls before 2026-07-01, so decisions under the 1995 rule set occur too; the
# maslikhat election is local to Almaty (KATO region 75).
ELECTIONS = (
    Election(
        "2027-president",
        ElectionKind.PRESIDENTIAL,
        dt.date(2027, 3, 21),
        called_on=dt.date(2027, 1, 20),
    ),
    Election(
        "2026-referendum",
        ElectionKind.REFERENDUM,
        dt.date(2026, 3, 15),
        called_on=dt.date(2026, 2, 12),
    ),
    Election(
        "2026-kurultai", ElectionKind.KURULTAI, dt.date(2026, 8, 30), called_on=dt.date(2026, 7, 1)
    ),
    Election(
        "2027-maslikhat-almaty",
        ElectionKind.MASLIKHAT,
        dt.date(2027, 3, 21),
        called_on=dt.date(2027, 1, 20),
        territory=("75",),
    ),
)

POPULATION_FILE = "population.jsonl"
REGISTRATIONS_FILE = "registrations.jsonl"
PRECINCTS_FILE = "precincts.jsonl"
ELECTIONS_FILE = "elections.jsonl"
SAMPLES_FILE = "samples.json"

CHUNK_PERSONS = 250_000
# Bounds the chunks so that each keeps enough IIN serials per birth date and sex.
_MAX_CHUNKS = 100
# Hand-made samples take the lowest serials; each of them needs one or two.
_SAMPLE_SERIALS = range(0, 10)


@dataclass(frozen=True, slots=True)
class GenerationSummary:
    out_dir: Path
    persons: int
    registrations: int
    precincts: Mapping[str, int]  # by kind
    elections: int
    categories: Mapping[str, int]  # people per PERSON_CATEGORIES
    samples: Mapping[str, str]  # SAMPLE_CATEGORIES -> IIN
    files: tuple[Path, ...]
    # What service/datagen/shape.py compares with the published figures.
    figures: Mapping[str, float]


@dataclass(frozen=True, slots=True)
class _Chunk:
    """A run of people with its own seed and IIN serials; a worker writes it to scratch files."""

    persons: int
    world: tuple[int, int]  # (persons, seed): what the geography is built from
    seed: str
    serials: range
    population: Path
    registrations: Path


@dataclass(frozen=True, slots=True)
class _Made:
    persons: int
    registrations: int
    categories: dict[str, int]
    tally: dict[str, int]


def generate_country(
    *, out_dir: Path, persons: int, seed: int, workers: int | None = None
) -> GenerationSummary:
    """Write a synthetic country of `persons` people; the same arguments give the same bytes.

    `workers` processes make the people (default: one per CPU) once there are more than
    CHUNK_PERSONS of them; it never changes the output. They are spawned, so a script calling
    this needs the usual `if __name__ == "__main__":` guard.
    """
    if persons < MIN_PERSONS:
        raise ValueError(f"persons must be at least {MIN_PERSONS}, one per sample category")
    out_dir.mkdir(parents=True, exist_ok=True)
    tables = _tables((persons, seed))
    geography = tables.geography
    files = tuple(
        out_dir / name
        for name in (POPULATION_FILE, REGISTRATIONS_FILE, PRECINCTS_FILE, ELECTIONS_FILE)
    )
    population_path, registrations_path, precincts_path, elections_path = files
    _write_json_lines(precincts_path, (precinct_record(p) for p in geography.precincts))
    _write_json_lines(elections_path, (election_record(e) for e in ELECTIONS))

    # Seeded pseudo-randomness is the point: reproducible test data, never secrets.
    rng = Random(f"{seed}:samples")  # noqa: S311
    writer = PopulationWriter(tables, rng, ELECTIONS[0], serials=_SAMPLE_SERIALS)
    with (
        DirectFile(population_path) as population,
        DirectFile(registrations_path) as registrations,
        tempfile.TemporaryDirectory(dir=out_dir, prefix=".datagen-") as scratch,
    ):
        samples = writer.write_samples(population, registrations)
        written_persons, written_registrations = writer.persons, writer.registrations
        categories = Counter(writer.categories)
        tally = Counter(writer.tally)
        chunks = _chunks(persons - writer.persons, (persons, seed), Path(scratch))
        for made in _make_all(chunks, tables, workers, into=(population, registrations)):
            written_persons += made.persons
            written_registrations += made.registrations
            categories.update(made.categories)
            tally.update(made.tally)

    samples_path = out_dir / SAMPLES_FILE
    samples_path.write_bytes(orjson.dumps(samples, option=orjson.OPT_INDENT_2) + b"\n")
    return GenerationSummary(
        out_dir=out_dir,
        persons=written_persons,
        registrations=written_registrations,
        precincts=dict(Counter(p.kind.value for p in geography.precincts)),
        elections=len(ELECTIONS),
        categories=dict(categories),
        samples=samples,
        files=(*files, samples_path),
        figures=_figures(geography, written_persons, categories, tally),
    )


def _figures(
    geography: Geography, persons: int, categories: Mapping[str, int], tally: Mapping[str, int]
) -> dict[str, float]:
    precincts = Counter(p.kind for p in geography.precincts)
    institutions = Counter(i.kind.value for i in geography.institutions)
    foreign = [p for p in geography.precincts if p.kind is PrecinctKind.FOREIGN]
    return {
        "persons": persons,
        "voters": sum(n for c, n in categories.items() if c.startswith("eligible_")),
        "under_18_share": tally["under_18"] / persons,
        "abroad_share": tally["abroad"] / persons,
        "domestic_precincts": precincts[PrecinctKind.ORDINARY] + precincts[PrecinctKind.SPECIAL],
        "special_precincts": precincts[PrecinctKind.SPECIAL],
        **{f"special.{kind.value}": institutions[kind.value] for kind in InstitutionKind},
        "missions": len(foreign),
        "mission_countries": len({p.country for p in foreign}),
        "villages": geography.villages,
        "towns": geography.towns,
        "rural_share": tally["rural_homes"] / max(1, tally["homes"]),
    }


def _tables(world: tuple[int, int]) -> PopulationTables:
    persons, seed = world
    rng = Random(f"{seed}:geography")  # noqa: S311
    return PopulationTables.build(build_geography(residents=persons, rng=rng), seed=seed)


def _chunks(count: int, world: tuple[int, int], scratch: Path) -> list[_Chunk]:
    size = max(CHUNK_PERSONS, -(-count // _MAX_CHUNKS))
    sizes = [min(size, count - start) for start in range(0, count, size)]
    first = _SAMPLE_SERIALS.stop
    # The same block size however many chunks there are: an issuer tabulates its block for
    # each of 121 check classes, which takes a while for all 10,000 serials.
    block = (SERIALS_PER_HEAD - first) // _MAX_CHUNKS
    return [
        _Chunk(
            persons=n,
            world=world,
            seed=f"{world[1]}:people:{index}",
            serials=range(first + index * block, first + (index + 1) * block),
            population=scratch / f"population.{index:04d}",
            registrations=scratch / f"registrations.{index:04d}",
        )
        for index, n in enumerate(sizes)
    ]


def _make_all(
    chunks: Sequence[_Chunk],
    tables: PopulationTables,
    workers: int | None,
    *,
    into: tuple[DirectFile, DirectFile],
) -> Iterator[_Made]:
    """Make the chunks in order, appending each to the population and registrations files."""
    population, registrations = into
    workers = min(workers or os.cpu_count() or 1, len(chunks))
    if workers <= 1:
        yield from (_make(chunk, tables, population, registrations) for chunk in chunks)
        return
    # Spawned, not forked: the caller may be a threaded server (the demo), where fork is unsafe.
    with ProcessPoolExecutor(
        max_workers=workers,
        mp_context=multiprocessing.get_context("spawn"),
        initializer=_prepare_worker,
        initargs=(chunks[0].world,),
    ) as pool:
        for chunk, made in zip(chunks, pool.map(_make_in_worker, chunks), strict=True):
            for output, part in (
                (population, chunk.population),
                (registrations, chunk.registrations),
            ):
                output.append_file(part)
                part.unlink()
            yield made


# Each worker process prepares the tables once, then makes many chunks with them.
_worker_tables: PopulationTables | None = None


def _prepare_worker(world: tuple[int, int]) -> None:
    global _worker_tables
    _worker_tables = _tables(world)


def _make_in_worker(chunk: _Chunk) -> _Made:
    assert _worker_tables is not None, "the pool initializer prepares them"
    # Cached writes: the parent reads each part back at once and deletes it, so its
    # page-cache pages are freed and reused by the next part.
    with chunk.population.open("wb") as population, chunk.registrations.open("wb") as lines:
        return _make(chunk, _worker_tables, population, lines)


def _make(chunk: _Chunk, tables: PopulationTables, population: Sink, registrations: Sink) -> _Made:
    rng = Random(chunk.seed)  # noqa: S311
    writer = PopulationWriter(tables, rng, ELECTIONS[0], serials=chunk.serials)
    writer.write(chunk.persons, population, registrations)
    return _Made(writer.persons, writer.registrations, dict(writer.categories), dict(writer.tally))


def precinct_record(precinct: Precinct) -> dict[str, Any]:
    return {
        "id": precinct.id,
        "number": precinct.number,
        "name": precinct.name,
        "address": precinct.address,
        "kato": precinct.kato,
        "kind": precinct.kind.value,
        "country": precinct.country,
        "city": precinct.city,
        "timezone": precinct.timezone,
        "day_registration": precinct.day_registration,
        "segments": [
            {"street": s.street, "from": s.first, "to": s.last, "parity": s.parity.value}
            for s in precinct.segments
        ],
        "buildings": list(precinct.buildings),
    }


def election_record(election: Election) -> dict[str, Any]:
    window = election.day_registration
    territory = {"territory": list(election.territory)} if election.kind.is_local else {}
    return {
        "id": election.id,
        "kind": election.kind.value,
        "voting_day": election.voting_day.isoformat(),
        "called_on": election.called_on.isoformat() if election.called_on else None,
        **territory,
        "day_registration": {
            "opens": window.opens.strftime("%H:%M"),
            "closes": window.closes.strftime("%H:%M"),
        },
    }


def _write_json_lines(path: Path, records: Iterable[dict[str, Any]]) -> None:
    path.write_bytes(b"".join(orjson.dumps(r) + b"\n" for r in records))
