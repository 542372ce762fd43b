"""Interactive API documentation at ``/docs``: Swagger UI over the contract, from the package.

Government networks are closed, so the page loads nothing from another host: the Swagger UI
bundle ships in the fastapi-offline wheel and is served under ``/docs/static``, and the page's
Content-Security-Policy keeps the browser on this origin. The documentation holds no data, so
it needs no token; it is not an operation of the contract.
"""

from __future__ import annotations

import base64
import hashlib
import re
from pathlib import Path

import fastapi_offline
from fastapi import FastAPI, Request
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

DOCS_PATH = "/docs"
ASSETS_PATH = "/docs/static"
ASSETS_DIRECTORY = Path(fastapi_offline.__file__).resolve().parent / "static"

# Swagger UI would otherwise send the contract to validator.swagger.io for a badge.
_SWAGGER_UI_PARAMETERS = {"validatorUrl": None}
_INLINE_SCRIPT = re.compile(r"<script>(.*?)</script>", re.DOTALL)


def _content_security_policy(html: str) -> str:
    # The page's one inline script (Swagger UI's configuration) is allowed by its hash, so no
    # other inline script could run; everything else the page loads comes from this origin,
    # but for the icons swagger-ui.css draws as data: images. Nothing else needs allowing:
    # tests/e2e/test_docs_browser.py fails on any violation the browser reports.
    hashes = " ".join(
        "'sha256-{}'".format(
            base64.b64encode(hashlib.sha256(script.encode()).digest()).decode("ascii")
        )
        for script in _INLINE_SCRIPT.findall(html)
    )
    return (
        f"default-src 'none'; script-src 'self' {hashes}; style-src 'self'; "
        "img-src 'self' data:; connect-src 'self'; "
        "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
    )


def install_docs(app: FastAPI) -> None:
    """Serve Swagger UI at ``/docs`` and its assets under ``/docs/static``."""
    app.mount(ASSETS_PATH, StaticFiles(directory=ASSETS_DIRECTORY), name="docs-assets")

    @app.get(DOCS_PATH, include_in_schema=False)
    async def swagger_ui(request: Request) -> HTMLResponse:
        root = request.scope.get("root_path", "")
        page = get_swagger_ui_html(
            openapi_url=f"{root}{app.openapi_url}",
            title=f"{app.title}: API documentation",
            swagger_js_url=f"{root}{ASSETS_PATH}/swagger-ui-bundle.js",
            swagger_css_url=f"{root}{ASSETS_PATH}/swagger-ui.css",
            swagger_favicon_url=f"{root}{ASSETS_PATH}/favicon.png",
            oauth2_redirect_url=None,
            swagger_ui_parameters=_SWAGGER_UI_PARAMETERS,
        )
        html = bytes(page.body).decode()
        page.headers["Content-Security-Policy"] = _content_security_policy(html)
        page.headers["X-Content-Type-Options"] = "nosniff"
        return page
