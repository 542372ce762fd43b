"""The contract at ``/openapi.json`` and Swagger UI over it at ``/docs``, from the package.

Government networks are closed, so the page loads nothing from another host: the Swagger UI
bundle ships in the fastapi-offline wheel and its three files are served under
``/docs/static``, and the page's Content-Security-Policy keeps the browser on this origin. The
documentation holds no data, so it needs no token; it is not an operation of the contract.
Every request of the page is answered by a route of its own (FastAPI's /openapi.json and a
mounted StaticFiles would not be), so the request metrics name each by its route template.
"""

from __future__ import annotations

import base64
import hashlib
import re
from pathlib import Path

import fastapi_offline
from fastapi import FastAPI, Request
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse

from service.errors import NotFound

OPENAPI_PATH = "/openapi.json"
DOCS_PATH = "/docs"
ASSETS_PATH = "/docs/static"
ASSETS_DIRECTORY = Path(fastapi_offline.__file__).resolve().parent / "static"
# What the page loads, and nothing else of the wheel's static directory.
ASSETS = {
    "swagger-ui-bundle.js": "text/javascript; charset=utf-8",
    "swagger-ui.css": "text/css; charset=utf-8",
    "favicon.png": "image/png",
}

# Swagger UI would otherwise send the contract to validator.swagger.io for a badge.
_SWAGGER_UI_PARAMETERS = {"validatorUrl": None}
_NOSNIFF = {"X-Content-Type-Options": "nosniff"}
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
    """Serve ``app.openapi()`` at ``/openapi.json``, Swagger UI at ``/docs`` and its assets
    under ``/docs/static``; the app is built with ``openapi_url=None``."""

    @app.get(OPENAPI_PATH, include_in_schema=False)
    async def contract(request: Request) -> JSONResponse:
        document = app.openapi()
        root = request.scope.get("root_path", "")
        if root:
            # Behind a proxy's path prefix the relative server "/" would miss the service.
            document = {**document, "servers": [{"url": root}]}
        return JSONResponse(document)

    @app.get(f"{ASSETS_PATH}/{{asset}}", include_in_schema=False)
    async def swagger_ui_asset(asset: str) -> FileResponse:
        media_type = ASSETS.get(asset)
        if media_type is None:
            raise NotFound()
        return FileResponse(ASSETS_DIRECTORY / asset, media_type=media_type, headers=_NOSNIFF)

    @app.get(DOCS_PATH, include_in_schema=False)
    async def swagger_ui(request: Request) -> HTMLResponse:
        root = request.scope.get("root_path", "")
        page = get_swagger_ui_html(
            openapi_url=f"{root}{OPENAPI_PATH}",
            title=f"{app.title}: API documentation",
            swagger_js_url=f"{root}{ASSETS_PATH}/swagger-ui-bundle.js",
            swagger_css_url=f"{root}{ASSETS_PATH}/swagger-ui.css",
            swagger_favicon_url=f"{root}{ASSETS_PATH}/favicon.png",
            oauth2_redirect_url=None,
            swagger_ui_parameters=_SWAGGER_UI_PARAMETERS,
        )
        html = bytes(page.body).decode()
        page.headers["Content-Security-Policy"] = _content_security_policy(html)
        page.headers.update(_NOSNIFF)
        return page
