"""Schemathesis drives the app in-process from the hand-written contract.

Every operation gets at least ``CONTRACT_EXAMPLES`` generated requests (positive and
negative); every response must conform to the contract (status, content type, headers,
body schema) and no request may produce a server error.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.config import SchemathesisConfig

from service.api.app import create_app
from service.clock import FixedClock
from service.security.tokens import Role
from tests.databases import new_database_url
from tests.support import (
    NOW,
    load_reference,
    make_keys,
    make_settings,
    mock_transports,
    token,
    write_country,
)

CONTRACT_EXAMPLES = int(os.environ.get("VOTER_CONTRACT_EXAMPLES", "200"))

_workdir = Path(tempfile.mkdtemp(prefix="voter-contract-"))
_keys = make_keys()
# Limits have their own tests; here they would only turn generated cases into 429s.
_settings = make_settings(new_database_url(_workdir), _keys, rate_limit_per_minute=1_000_000)
_country = write_country(_workdir / "country")
load_reference(_settings, _country)
_app = create_app(_settings, clock=FixedClock(NOW), transports=mock_transports(_country))

# Valid-by-schema is not valid-by-law: an IIN's check digit cannot be written in JSON Schema,
# and an election or precinct id can be well formed yet unknown. Such requests are refused
# with 404 or 422 problem bodies, which the contract documents.
_config = SchemathesisConfig.from_dict(
    {
        "checks": {
            "positive_data_acceptance": {"expected-statuses": ["2xx", "404", "422"]},
        },
    }
)
schema = schemathesis.openapi.from_asgi("/openapi.json", _app, config=_config)


@schema.hook
def filter_query(_context: schemathesis.HookContext, query: dict[str, Any] | None) -> bool:
    # A parameter whose value is an empty list is not sent at all by the HTTP client, so the
    # server sees a valid request that schemathesis still believes carries an extra field.
    return not query or all(value != [] for value in query.values())


# One token with every role, so authorization never hides a response shape.
_TOKEN = token(_keys, *Role)


@schema.parametrize()
@settings(
    max_examples=CONTRACT_EXAMPLES,
    deadline=None,
    suppress_health_check=list(HealthCheck),
)
def test_every_operation_conforms_to_the_contract(case: schemathesis.Case) -> None:
    case.call_and_validate(headers={"Authorization": f"Bearer {_TOKEN}"})
