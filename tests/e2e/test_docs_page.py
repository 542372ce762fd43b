"""The page at /docs over HTTP: everything it loads comes from this service, and it is public."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient

from service.api.app import create_app
from tests.support import Country, Keys, load_reference, make_settings, mock_transports

_REFERENCE = re.compile(r"""(?:src|href)=["']([^"']+)["']|url:\s*'([^']+)'""")


def _references(html: str) -> list[str]:
    return [first or second for first, second in _REFERENCE.findall(html)]


def test_the_docs_page_loads_every_asset_from_this_service_without_a_token(
    client: TestClient,
) -> None:
    page = client.get("/docs")

    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    references = _references(page.text)
    assert "/docs/static/swagger-ui-bundle.js" in references
    assert "/docs/static/swagger-ui.css" in references
    assert "/openapi.json" in references
    for reference in references:
        assert reference.startswith("/"), f"{reference} is not on this origin"
        assert not reference.startswith("//"), f"{reference} is another host"
        assert client.get(reference).status_code == 200, reference
    assert "://" not in page.text


def test_the_docs_page_allows_only_this_origin(client: TestClient) -> None:
    policy = dict(
        directive.strip().split(" ", 1)
        for directive in client.get("/docs").headers["content-security-policy"].split(";")
    )

    assert policy["default-src"] == "'none'"
    for directive in ("script-src", "style-src", "img-src", "connect-src"):
        sources = policy[directive].split()
        assert sources[0] == "'self'"
        # Beyond 'self': only the hash of the inline configuration script and data: images
        # (Swagger UI's CSS draws its icons as data: URLs); no host, no 'unsafe-inline'.
        assert all(source.startswith(("'sha256-", "data:")) for source in sources[1:])
    assert policy["frame-ancestors"] == "'none'"


def test_the_docs_are_public_not_personal_answers_and_measured_under_their_own_routes(
    client: TestClient,
) -> None:
    assets = ["swagger-ui-bundle.js", "swagger-ui.css", "favicon.png"]
    answers = [client.get(path) for path in ["/docs", *(f"/docs/static/{a}" for a in assets)]]
    contract = client.get("/openapi.json")
    # The wheel's ReDoc bundle is not something the page loads, so it is not served either.
    unused = client.get("/docs/static/redoc.standalone.js")

    assert [answer.status_code for answer in [*answers, contract]] == [200] * 5
    assert [answer.headers["x-content-type-options"] for answer in answers] == ["nosniff"] * 4
    # No token and nothing personal: unlike every /v1 answer, none of them is marked no-store.
    assert [answer.headers.get("cache-control") for answer in [*answers, contract]] == [None] * 5
    assert (unused.status_code, unused.json()["code"]) == (404, "RESOURCE_NOT_FOUND")
    metrics = client.get("/metrics").text
    assert 'voter_http_requests_total{method="GET",route="/docs",status="200"} 1.0' in metrics
    assert (
        'voter_http_requests_total{method="GET",route="/docs/static/{asset}",status="200"} 3.0'
        in metrics
    )
    assert 'route="/openapi.json",status="200"} 1.0' in metrics
    assert 'route="unmatched",status="200"' not in metrics


def test_behind_a_path_prefix_the_page_and_try_it_out_keep_to_the_prefix(
    database_url: str, keys: Keys, country: Country
) -> None:
    settings = make_settings(database_url, keys)
    load_reference(settings, country)
    app = create_app(settings, transports=mock_transports(country))
    # A proxy serving the service under /voters, as uvicorn --root-path tells it.
    with TestClient(app, root_path="/voters") as behind_proxy:
        page = behind_proxy.get("/voters/docs")
        contract = behind_proxy.get("/voters/openapi.json").json()

    assert all(reference.startswith("/voters/") for reference in _references(page.text))
    # "Try it out" calls the contract's server, which would otherwise be the origin's root.
    assert contract["servers"][0] == {"url": "/voters"}
