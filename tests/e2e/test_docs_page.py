"""The page at /docs over HTTP: everything it loads comes from this service, and it is public."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient

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


def test_the_docs_are_not_an_operation_of_the_contract(client: TestClient) -> None:
    served = client.get("/openapi.json").json()

    assert not any(path.startswith("/docs") for path in served["paths"])
