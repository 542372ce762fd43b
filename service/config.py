"""Configuration from ``VOTER_*`` environment variables (SPEC §13)."""

from __future__ import annotations

import datetime as dt
from enum import StrEnum
from typing import Self

from pydantic import Field, PositiveInt, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from service.audit.note import DEFAULT_ORIGIN
from service.domain.caller import Role
from service.domain.limits import RoleLimits, role_limits

PLACEHOLDER_HMAC_KEY = "dev-only-audit-hmac-key-change-me"


class Environment(StrEnum):
    DEV = "dev"
    PROD = "prod"


class LogFormat(StrEnum):
    AUTO = "auto"
    JSON = "json"
    CONSOLE = "console"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="VOTER_", extra="ignore", frozen=True)

    env: Environment = Environment.DEV
    database_url: str = "sqlite:///var/voter.db"
    registry_url: str = "http://127.0.0.1:8101"
    addresses_url: str = "http://127.0.0.1:8102"
    upstream_deadline_seconds: float = Field(default=2.0, gt=0, le=30)
    # Also the bulkhead: at most this many lookups in flight to each upstream, any transport.
    upstream_max_connections: int = Field(default=64, ge=1, le=1000)
    upstream_retry_attempts: int = Field(default=3, ge=1, le=3)
    upstream_breaker_failures: int = Field(default=5, ge=1, le=1000)
    upstream_breaker_reset_seconds: float = Field(default=5.0, gt=0, le=300)
    # Concurrent lookups travel as `lookup-batch` calls (service/adapters/coalesce.py); off
    # for an upstream that offers only the single-person lookups of SPEC §9.
    upstream_batch_lookups: bool = True
    upstream_batch_in_flight: int = Field(default=4, ge=1, le=64)
    retry_after_seconds: int = Field(default=5, ge=1, le=3600)

    jwt_public_keys: dict[str, str] = Field(default_factory=dict)
    jwt_issuer: str = "voter-eligibility-dev"
    jwt_audience: str = "voter-eligibility"
    jwt_max_lifetime_seconds: int = Field(default=3600, ge=60, le=24 * 3600)
    jwt_private_key: SecretStr | None = None
    jwt_kid: str = "dev"

    audit_hmac_key: SecretStr = SecretStr(PLACEHOLDER_HMAC_KEY)
    audit_signing_key: SecretStr | None = None
    audit_checkpoint_every: int = Field(default=1000, ge=1, le=100_000)
    audit_checkpoint_max_age_seconds: int = Field(default=60, ge=1, le=3600)
    # The origin line of the log's tlog-checkpoint notes and the key name they are signed
    # under (SPEC §17): no spaces, no '+'. Verifiers pin it with the key (`audit vkey`).
    audit_log_origin: str = Field(default=DEFAULT_ORIGIN, pattern=r"^[^\s+]+$", max_length=200)
    # How many registered witnesses must cosign a checkpoint for it to count as witnessed.
    witness_quorum: int = Field(default=1, ge=1, le=100)

    # Each role has its limits in service/domain/limits.py (the README's table). These
    # settings replace them: a per-role JSON object {role: n} wins over one value for every
    # role, which wins over the table. A caller gets its most generous role's limits.
    rate_limit_per_minute: int | None = Field(default=None, ge=1)
    rate_limit_per_role: dict[str, PositiveInt] = Field(default_factory=dict)
    # Distinct voters one account may look up in an hour before it is held (e-gov: alerted).
    bulk_lookup_threshold: int | None = Field(default=None, ge=1)
    bulk_lookup_threshold_per_role: dict[str, PositiveInt] = Field(default_factory=dict)
    # How soon a replica sees a hold another replica placed or lifted.
    account_hold_refresh_seconds: float = Field(default=5.0, gt=0, le=60)
    clock_fixed: dt.datetime | None = None
    max_body_bytes: int = Field(default=16_384, ge=1024, le=1_048_576)
    log_format: LogFormat = LogFormat.AUTO

    @model_validator(mode="after")
    def _refuse_unknown_roles(self) -> Self:
        known = {role.value for role in Role}
        for name, table in (
            ("VOTER_RATE_LIMIT_PER_ROLE", self.rate_limit_per_role),
            ("VOTER_BULK_LOOKUP_THRESHOLD_PER_ROLE", self.bulk_lookup_threshold_per_role),
        ):
            unknown = sorted(set(table) - known)
            if unknown:
                raise ValueError(f"{name} names unknown roles: {unknown}")
        return self

    def role_limits(self) -> dict[Role, RoleLimits]:
        """The role table (service.domain.limits) with these settings applied."""
        return role_limits(
            per_minute=self.rate_limit_per_minute,
            per_minute_by_role={Role(r): n for r, n in self.rate_limit_per_role.items()},
            hold_after_voters=self.bulk_lookup_threshold,
            hold_after_voters_by_role={
                Role(r): n for r, n in self.bulk_lookup_threshold_per_role.items()
            },
        )

    @model_validator(mode="after")
    def _refuse_development_shortcuts_in_production(self) -> Self:
        if self.env is not Environment.PROD:
            return self
        problems = []
        if self.audit_hmac_key.get_secret_value() == PLACEHOLDER_HMAC_KEY:
            problems.append("VOTER_AUDIT_HMAC_KEY is the development placeholder")
        if len(self.audit_hmac_key.get_secret_value()) < 32:
            problems.append("VOTER_AUDIT_HMAC_KEY is shorter than 32 characters")
        if self.audit_signing_key is None:
            problems.append("VOTER_AUDIT_SIGNING_KEY is not set")
        if self.clock_fixed is not None:
            problems.append("VOTER_CLOCK_FIXED is development only")
        if self.jwt_private_key is not None:
            problems.append("VOTER_JWT_PRIVATE_KEY is development only")
        if not self.jwt_public_keys:
            problems.append("VOTER_JWT_PUBLIC_KEYS is empty")
        if problems:
            raise ValueError("refusing production configuration: " + "; ".join(problems))
        return self

    @property
    def is_production(self) -> bool:
        return self.env is Environment.PROD
