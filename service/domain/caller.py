"""Who is acting: an authenticated account and the roles its token grants (SPEC §1, §12)."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Role(StrEnum):
    EGOV = "egov"
    COMMISSION = "commission"
    OPERATOR = "operator"
    AUDITOR = "auditor"
    # An observer's cosigner (SPEC §17): reads checkpoints and proofs, posts cosignatures.
    WITNESS = "witness"


@dataclass(frozen=True)
class Caller:
    subject: str
    roles: frozenset[Role]
    token_id: str | None
    # The precincts a commission member serves: the token's ``precincts`` claim (SPEC §15).
    precincts: frozenset[str] = frozenset()
    # The organisation the account acts for (claim ``org``): what a citizen's access log
    # shows instead of the account (SPEC §17).
    organisation: str | None = None

    def serves(self, precinct_id: str) -> bool:
        """Whether this caller may act for a precinct's commission (Service A)."""
        return Role.COMMISSION in self.roles and precinct_id in self.precincts
