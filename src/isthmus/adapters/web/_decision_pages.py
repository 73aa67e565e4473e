"""Design › decisions: deployed DMN models — the list, upload, and a model page with dmn-js.

The model page renders the DRD and the decision tables with the vendored dmn-js modeler
(``static/vendor/dmn-js``); "Save as new version" and "Test this decision" go through the API
(``POST /api/v1/decisions`` and ``…/{key}/evaluate``) from ``static/js/decisions.js`` with the
session's CSRF header, so the browser and the API can never disagree on the rules.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, File, Request, Response, UploadFile
from fastapi.responses import RedirectResponse
from starlette.concurrency import run_in_threadpool

from isthmus.adapters.web._guard import WebContainer, WebPrincipal, WebRoute
from isthmus.adapters.web._nav import Page, Stage, register_page
from isthmus.adapters.web._redirects import with_query
from isthmus.adapters.web._templates import render
from isthmus.adapters.web._uploads import read_upload
from isthmus.errors import InvalidInput
from isthmus.i18n import N_

router = APIRouter(prefix="/decisions", route_class=WebRoute)
register_page(Page(Stage.DESIGN, "decisions", N_("Decisions"), "/decisions", "decision:read"))

KIND_LABELS = {"decision": N_("Decision"), "decision_service": N_("Decision service")}


@router.get("", include_in_schema=False)
def decision_list(request: Request, container: WebContainer, principal: WebPrincipal) -> Response:
    models = container.decisions.list(principal)
    return render(request, "decisions/list.html", {"models": models, "deploy_error": None})


@router.post("", include_in_schema=False)
async def decision_deploy(
    request: Request,
    container: WebContainer,
    principal: WebPrincipal,
    file: Annotated[UploadFile | None, File()] = None,
) -> Response:
    """Deploy an uploaded .dmn and open it; a bad file shows the list again with the parser's error."""
    try:
        missing = InvalidInput("choose a .dmn file to deploy")
        data, name = await read_upload(file, container.settings.max_upload_bytes, missing=missing)
        model = await run_in_threadpool(container.decisions.deploy, principal, data, name)
    except InvalidInput as error:
        models = await run_in_threadpool(container.decisions.list, principal)
        context = {"models": models, "deploy_error": error}
        return render(request, "decisions/list.html", context, status_code=422)
    target = with_query(f"/decisions/{model.key}", version=str(model.version), deployed="1")
    return RedirectResponse(target, status_code=303)


@router.get("/{key}", include_in_schema=False)
def decision_model(
    request: Request,
    key: str,
    container: WebContainer,
    principal: WebPrincipal,
    version: int | None = None,
    deployed: str = "",
) -> Response:
    versions = container.decisions.versions(principal, key)
    model = container.decisions.get(principal, key, version)
    context: dict[str, Any] = {
        "model": model,
        "versions": versions,
        "is_latest": model.version == versions[-1].version,
        "deployed": bool(deployed),
        "kind_labels": KIND_LABELS,
    }
    return render(
        request, "decisions/model.html", context, headers={"Content-Security-Policy": _editor_csp()}
    )


def _editor_csp() -> str:
    """The site's policy with inline *styles* allowed: dmn-js and diagram-js position and size
    their SVG and table elements through style attributes (bpmn.io documents ``'unsafe-inline'``
    for ``style-src``). Scripts stay ``'self'`` only. The middleware keeps a route's own header."""
    from isthmus.adapters.web import CONTENT_SECURITY_POLICY  # the package imports this module

    return CONTENT_SECURITY_POLICY.replace("style-src 'self'", "style-src 'self' 'unsafe-inline'")
