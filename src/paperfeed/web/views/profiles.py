"""The portable profile on the account page: download it (JSON, BibTeX), import one.

The document's format is described on ``/about/profile`` (and ``docs/profile.md``).
Uploads go through the same 1 MiB form limit as every form here; bigger profiles
import with ``paperfeed profile import``.
"""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, Request
from starlette.datastructures import UploadFile
from starlette.responses import Response

from paperfeed.community.profiles import parse_profile
from paperfeed.errors import InputError
from paperfeed.web.auth import require_user
from paperfeed.web.views.accounts import account_data
from paperfeed.web.views.common import library_of, page

router = APIRouter(include_in_schema=False)

NO_STORE = {"cache-control": "no-store"}


def _attachment(name: str) -> dict[str, str]:
    return {**NO_STORE, "content-disposition": f'attachment; filename="{name}"'}


@router.get("/account/export")
def export_json(request: Request) -> Response:
    """The profile document (``/account/export.json`` is the same)."""
    user = require_user(request)
    document = library_of(request).export_profile(user.id)
    body = json.dumps(document, ensure_ascii=False, indent=1)
    return Response(body.encode(), media_type="application/json",
                    headers=_attachment(f"paperfeed-{user.username}.json"))  # fmt: skip


@router.get("/account/export.bib")
def export_bibtex(request: Request) -> Response:
    user = require_user(request)
    text = library_of(request).export_profile_bibtex(user.id)
    return Response(text.encode(), media_type="application/x-bibtex; charset=utf-8",
                    headers=_attachment(f"paperfeed-{user.username}.bib"))  # fmt: skip


@router.post("/account/import")
async def import_profile(request: Request) -> Response:
    """Import an uploaded profile; the account page shows what matched and what did not."""
    user = require_user(request)
    form: Any = await request.form()
    try:
        upload = form.get("file")
        if not isinstance(upload, UploadFile):
            raise InputError("choose a profile file (.json) to import")
        raw = await upload.read()
    finally:
        await form.close()
    library = library_of(request)

    def run() -> tuple[dict[str, Any] | None, str | None]:
        try:
            return library.import_profile(user.id, parse_profile(raw)).as_dict(), None
        except InputError as exc:
            return None, str(exc)

    import anyio.to_thread

    report, error = await anyio.to_thread.run_sync(run)

    def render() -> Response:
        data = {**account_data(request, user), "import_report": report, "import_error": error}
        return page(request, "account.html", data, status=400 if error else 200,
                    headers=NO_STORE)  # fmt: skip

    return await anyio.to_thread.run_sync(render)


@router.get("/about/profile")
def about_profile(request: Request) -> Response:
    from paperfeed.community.profiles import SECTIONS, VERSION

    return page(request, "about_profile.html", {"version": VERSION, "sections": list(SECTIONS)})
