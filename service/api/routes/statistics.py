"""GET /v1/elections/{id}/statistics (and .csv): public aggregates of an election, without a
token (SPEC §17). Counts only, per precinct; fewer than ten is published as suppressed."""

from __future__ import annotations

import csv
import io
from typing import Annotated

from fastapi import APIRouter, Path
from starlette.responses import Response

from service.api.bodies import JsonBodyRoute
from service.api.deps import StatisticsDep
from service.api.schemas import DecisionCountOut, EntryCountOut, StatisticsOut
from service.domain.statistics import SMALL_COUNT
from service.usecases.statistics import CACHE_SECONDS, ElectionStatistics

router = APIRouter(prefix="/v1", tags=["statistics"], route_class=JsonBodyRoute)

ElectionIdPath = Annotated[str, Path(min_length=1, max_length=64, pattern=r"^[0-9A-Za-z_-]+$")]
_CACHE_CONTROL = f"public, max-age={int(CACHE_SECONDS)}"
CSV_COLUMNS = ("table", "precinct_id", "source", "outcome", "basis", "kind", "count")
# What a suppressed count reads as in the CSV export.
SUPPRESSED = f"<{SMALL_COUNT}"


class CsvText(Response):
    media_type = "text/csv"


def statistics_out(stats: ElectionStatistics) -> StatisticsOut:
    return StatisticsOut(
        election_id=stats.election_id,
        small_count=SMALL_COUNT,
        folded_seq=stats.folded_seq,
        folded_at=stats.folded_at,
        computed_at=stats.computed_at,
        decisions=[
            DecisionCountOut(
                precinct_id=cell.precinct_id,
                source=cell.source,
                outcome=cell.outcome,
                basis=cell.basis,
                count=cell.count,
                suppressed=cell.count is None,
            )
            for cell in stats.decisions
        ],
        list_entries=[
            EntryCountOut(
                precinct_id=cell.precinct_id,
                kind=cell.kind,
                count=cell.count,
                suppressed=cell.count is None,
            )
            for cell in stats.list_entries
        ],
    )


def statistics_csv(stats: ElectionStatistics) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for d in stats.decisions:
        count = SUPPRESSED if d.count is None else d.count
        writer.writerow(
            ["decisions", d.precinct_id or "", d.source, d.outcome, d.basis or "", "", count]
        )
    for e in stats.list_entries:
        count = SUPPRESSED if e.count is None else e.count
        writer.writerow(["list_entries", e.precinct_id, "", "", "", e.kind, count])
    return out.getvalue()


@router.get("/elections/{election_id}/statistics", response_model=StatisticsOut)
async def election_statistics(
    election_id: ElectionIdPath, statistics: StatisticsDep, response: Response
) -> StatisticsOut:
    response.headers["Cache-Control"] = _CACHE_CONTROL
    return statistics_out(await statistics.election(election_id))


@router.get("/elections/{election_id}/statistics.csv", response_class=CsvText)
async def election_statistics_csv(
    election_id: ElectionIdPath, statistics: StatisticsDep
) -> CsvText:
    stats = await statistics.election(election_id)
    return CsvText(
        statistics_csv(stats),
        headers={
            "Cache-Control": _CACHE_CONTROL,
            "Content-Disposition": f'attachment; filename="{election_id}-statistics.csv"',
        },
    )
