"""``/docs``: the API's Swagger UI, served entirely from this site.

FastAPI's default docs page loads Swagger UI from a CDN, which fails offline and
leaks every visit to a third party. Here the same page loads the vendored copy in
``static/vendor/swagger-ui/`` (swagger-ui-dist, Apache-2.0). Its one inline script
(the ``SwaggerUIBundle({...})`` call) is allowed by its sha256 in this page's own
Content-Security-Policy; every other page keeps the site-wide policy that allows
no inline script at all. Swagger UI's online spec validator is switched off (it
would send the schema to validator.swagger.io).
"""

from __future__ import annotations

import base64
import hashlib
import re
from functools import cache

from fastapi import APIRouter, Request
from fastapi.openapi.docs import get_swagger_ui_html
from starlette.responses import HTMLResponse, Response

router = APIRouter(include_in_schema=False)

VENDOR = "vendor/swagger-ui/"
_INLINE_SCRIPT = re.compile(r"<script>(.*?)</script>", re.DOTALL)


@cache
def _docs_page(openapi_url: str, title: str, js: str, css: str, icon: str) -> tuple[bytes, str]:
    """The page and its Content-Security-Policy (built once per process)."""
    page = get_swagger_ui_html(
        openapi_url=openapi_url,
        title=title,
        swagger_js_url=js,
        swagger_css_url=css,
        swagger_favicon_url=icon,
        swagger_ui_parameters={"validatorUrl": None, "tryItOutEnabled": False},
    )
    body = bytes(page.body)
    hashes = " ".join(
        "'sha256-" + base64.b64encode(hashlib.sha256(script.encode()).digest()).decode() + "'"
        for script in _INLINE_SCRIPT.findall(body.decode())
    )
    policy = (
        "default-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'none';"
        f" form-action 'self'; frame-ancestors 'none'; script-src 'self' {hashes}"
    )
    return body, policy


@router.get("/docs")
def docs(request: Request) -> Response:
    static = request.app.state.renderer.env.globals["static"]
    body, policy = _docs_page(
        request.app.openapi_url or "/openapi.json",
        f"{request.app.title} API",
        static(VENDOR + "swagger-ui-bundle.js"),
        static(VENDOR + "swagger-ui.css"),
        static(VENDOR + "favicon-32x32.png"),
    )
    return HTMLResponse(body, headers={"content-security-policy": policy})
