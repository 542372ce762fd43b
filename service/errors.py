"""One error hierarchy with stable machine codes; HTTP mapping lives in service.api.problems.

Messages are fixed texts chosen by code: they never interpolate user input, so no IIN can
leak through an error.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any


class ErrorCode(StrEnum):
    MALFORMED_REQUEST = "MALFORMED_REQUEST"
    VALIDATION_FAILED = "VALIDATION_FAILED"
    IIN_FORMAT = "IIN_FORMAT"
    IIN_CHECKSUM = "IIN_CHECKSUM"
    IIN_UNUSABLE = "IIN_UNUSABLE"
    NOT_INDIVIDUAL = "NOT_INDIVIDUAL"
    UNAUTHENTICATED = "UNAUTHENTICATED"
    FORBIDDEN = "FORBIDDEN"
    PRECINCT_NOT_SERVED = "PRECINCT_NOT_SERVED"
    ELECTION_NOT_FOUND = "ELECTION_NOT_FOUND"
    PRECINCT_NOT_FOUND = "PRECINCT_NOT_FOUND"
    ELECTION_NOT_BY_CITIZENS = "ELECTION_NOT_BY_CITIZENS"
    PRECINCT_OUTSIDE_TERRITORY = "PRECINCT_OUTSIDE_TERRITORY"
    RESOURCE_NOT_FOUND = "RESOURCE_NOT_FOUND"
    REGISTRATION_NOT_FOUND = "REGISTRATION_NOT_FOUND"
    OVERRIDE_NOT_FOUND = "OVERRIDE_NOT_FOUND"
    METHOD_NOT_ALLOWED = "METHOD_NOT_ALLOWED"
    IDEMPOTENCY_KEY_REQUIRED = "IDEMPOTENCY_KEY_REQUIRED"
    IDEMPOTENCY_CONFLICT = "IDEMPOTENCY_CONFLICT"
    NOT_ELIGIBLE = "NOT_ELIGIBLE"
    HAS_REGISTRATION = "HAS_REGISTRATION"
    ADDRESS_NOT_COVERED = "ADDRESS_NOT_COVERED"
    REGISTERED_ABROAD = "REGISTERED_ABROAD"
    PRECINCT_NOT_DESIGNATED = "PRECINCT_NOT_DESIGNATED"
    REGISTRATION_CLOSED = "REGISTRATION_CLOSED"
    ALREADY_REGISTERED = "ALREADY_REGISTERED"
    ALREADY_ON_LIST = "ALREADY_ON_LIST"
    LIST_ENTRY_NOT_FOUND = "LIST_ENTRY_NOT_FOUND"
    LIST_ENTRY_NOT_ACTIVE = "LIST_ENTRY_NOT_ACTIVE"
    PRECINCT_NOT_SPECIAL = "PRECINCT_NOT_SPECIAL"
    PRESENCE_LISTS_CLOSED = "PRESENCE_LISTS_CLOSED"
    ABSENTEE_CERTIFICATE_NOT_FOUND = "ABSENTEE_CERTIFICATE_NOT_FOUND"
    ABSENTEE_CERTIFICATE_ALREADY_ISSUED = "ABSENTEE_CERTIFICATE_ALREADY_ISSUED"
    ABSENTEE_CERTIFICATE_USED = "ABSENTEE_CERTIFICATE_USED"
    ABSENTEE_CERTIFICATES_CLOSED = "ABSENTEE_CERTIFICATES_CLOSED"
    ABSENTEE_SERIALS_EXHAUSTED = "ABSENTEE_SERIALS_EXHAUSTED"
    NOT_ON_A_LIST = "NOT_ON_A_LIST"
    APPLICATIONS_CLOSED = "APPLICATIONS_CLOSED"
    STAY_ADDRESS_NOT_COVERED = "STAY_ADDRESS_NOT_COVERED"
    MISSION_APPLICATIONS_CLOSED = "MISSION_APPLICATIONS_CLOSED"
    PRECINCT_NOT_FOREIGN = "PRECINCT_NOT_FOREIGN"
    REGISTRATION_NOT_ACTIVE = "REGISTRATION_NOT_ACTIVE"
    SELF_APPROVAL_FORBIDDEN = "SELF_APPROVAL_FORBIDDEN"
    OVERRIDE_NOT_PENDING = "OVERRIDE_NOT_PENDING"
    OVERRIDE_NOT_ACTIVE = "OVERRIDE_NOT_ACTIVE"
    OVERRIDE_EXPIRED = "OVERRIDE_EXPIRED"
    OVERRIDE_CONFLICT = "OVERRIDE_CONFLICT"
    UNDO_PENDING = "UNDO_PENDING"
    UNDO_NOT_PENDING = "UNDO_NOT_PENDING"
    SELF_CONFIRMATION_FORBIDDEN = "SELF_CONFIRMATION_FORBIDDEN"
    PAYLOAD_TOO_LARGE = "PAYLOAD_TOO_LARGE"
    UNSUPPORTED_MEDIA_TYPE = "UNSUPPORTED_MEDIA_TYPE"
    RATE_LIMITED = "RATE_LIMITED"
    ACCOUNT_HELD = "ACCOUNT_HELD"
    HOLD_NOT_ACTIVE = "HOLD_NOT_ACTIVE"
    SELF_LIFT_FORBIDDEN = "SELF_LIFT_FORBIDDEN"
    UNDETERMINED = "UNDETERMINED"
    SERVICE_UNAVAILABLE = "SERVICE_UNAVAILABLE"
    TREE_SIZE_UNKNOWN = "TREE_SIZE_UNKNOWN"
    PROOF_RANGE_INVALID = "PROOF_RANGE_INVALID"
    CHECKPOINT_NOT_FOUND = "CHECKPOINT_NOT_FOUND"
    COSIGNATURE_INVALID = "COSIGNATURE_INVALID"
    WITNESS_NOT_REGISTERED = "WITNESS_NOT_REGISTERED"
    INTERNAL_ERROR = "INTERNAL_ERROR"


class ServiceError(Exception):
    """Base of every error the service reports to a caller."""

    code: ErrorCode = ErrorCode.INTERNAL_ERROR

    def __init__(self, code: ErrorCode | None = None, **extensions: Any) -> None:
        self.code = code or type(self).code
        super().__init__(self.code.value)
        self.extensions = extensions


class InvalidInput(ServiceError):
    code = ErrorCode.VALIDATION_FAILED


class Unauthenticated(ServiceError):
    """``reason`` says why, as a stable code safe to tell the caller: one of the token
    verifier's reasons, or one of the two below."""

    code = ErrorCode.UNAUTHENTICATED

    NO_BEARER_TOKEN = "missing"  # noqa: S105 - a reason code, not a secret
    SUBJECT_HOLDS_IIN = "subject_holds_iin"

    def __init__(self, *, reason: str) -> None:
        super().__init__(reason=reason)
        self.reason = reason


class Forbidden(ServiceError):
    code = ErrorCode.FORBIDDEN


class NotFound(ServiceError):
    code = ErrorCode.RESOURCE_NOT_FOUND


class RateLimited(ServiceError):
    code = ErrorCode.RATE_LIMITED

    def __init__(self, *, retry_after_seconds: int) -> None:
        super().__init__()
        self.retry_after_seconds = retry_after_seconds


class AccountHeld(ServiceError):
    """The account looked up more distinct voters than its role allows in an hour: it is
    held, refused every voter look-up, until an operator lifts the hold."""

    code = ErrorCode.ACCOUNT_HELD


class UpstreamFailure(StrEnum):
    """How an upstream call failed: the ``failure`` of ``UpstreamUnavailable``."""

    TIMEOUT = "timeout"
    CONNECTION = "connection"
    STATUS = "status"
    MALFORMED = "malformed"
    # Refused here without calling: the breaker is open, or every slot stayed taken.
    CIRCUIT_OPEN = "circuit_open"
    SATURATED = "saturated"


class UpstreamUnavailable(ServiceError):
    """An upstream timed out, failed, was unreachable or answered nonsense.

    ``upstream`` names the service ("registry" or "addresses"), ``failure`` the kind of fault
    (timeout, status, connection, malformed). The original exception is the ``__cause__``.
    """

    code = ErrorCode.UNDETERMINED

    def __init__(self, *, upstream: str, failure: str) -> None:
        super().__init__()
        self.upstream = upstream
        self.failure = failure


class StorageUnavailable(ServiceError):
    """The database refused the write: nothing was acknowledged."""

    code = ErrorCode.SERVICE_UNAVAILABLE
