"""Design › process models: the list, upload to deploy, and the bpmn-js modeler with a properties panel.

The modeler page loads the vendored bpmn-js modeler (``static/vendor/bpmn-js``) and our own
properties panel (``static/js/modeler.js``): owner, role, SLA, candidate groups, FEEL conditions,
service bindings and form fields, written as ``isthmus:`` attributes. "Save draft", "Check" and
"Deploy" go through the JSON API (``/api/v1/models/drafts``, ``…/validate``, ``/api/v1/models``)
with the session's CSRF header, so the browser and the API can never disagree on the rules.
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
from isthmus.errors import InvalidInput, PermissionDenied
from isthmus.i18n import N_
from isthmus.models import InvalidModel

router = APIRouter(prefix="/models", route_class=WebRoute)
register_page(Page(Stage.DESIGN, "models", N_("Process models"), "/models", "model:read"))

#: Form field types the inbox knows how to render (the Camunda 7 names).
FIELD_TYPES = ("string", "long", "number", "boolean", "date", "enum")


@router.get("", include_in_schema=False)
def model_list(request: Request, container: WebContainer, principal: WebPrincipal) -> Response:
    found = container.models.list(principal, include_drafts=True)
    return render(request, "models/list.html", {"definitions": found, "deploy_error": None, "problems": []})


@router.post("", include_in_schema=False)
async def model_deploy(
    request: Request,
    container: WebContainer,
    principal: WebPrincipal,
    file: Annotated[UploadFile | None, File()] = None,
) -> Response:
    """Deploy an uploaded .bpmn and open it; a refused file shows the list again with its problems."""
    try:
        missing = InvalidInput("choose a .bpmn file to deploy")
        data, name = await read_upload(file, container.settings.max_upload_bytes, missing=missing)
        deployment = await run_in_threadpool(container.models.deploy, principal, data, name)
    except InvalidInput as error:
        found = await run_in_threadpool(container.models.list, principal, include_drafts=True)
        problems = error.problems if isinstance(error, InvalidModel) else []
        context = {"definitions": found, "deploy_error": error, "problems": problems}
        return render(request, "models/list.html", context, status_code=422)
    main = deployment.main
    target = with_query(f"/models/{main.key}", version=str(main.version), deployed="1")
    return RedirectResponse(target, status_code=303)


@router.get("/new", include_in_schema=False)
def model_new(request: Request, container: WebContainer, principal: WebPrincipal) -> Response:
    """An empty diagram in the modeler; the first "Save draft" creates the key."""
    principal.require("model:write")
    context: dict[str, Any] = {"definition": None, "versions": [], "xml_url": "", "notice": ""}
    return _modeler(request, context | {"flow_choices": _flow_choices(container, principal)})


@router.get("/{key}", include_in_schema=False)
def model_page(
    request: Request,
    key: str,
    container: WebContainer,
    principal: WebPrincipal,
    version: int | None = None,
    deployed: str = "",
    saved: str = "",
) -> Response:
    versions = container.models.versions(principal, key)
    definition = versions[-1] if version is None else container.models.get(principal, key, version)
    notice = "deployed" if deployed else ("saved" if saved else "")
    context: dict[str, Any] = {
        "definition": definition,
        "versions": versions,
        "xml_url": f"/api/v1/models/{definition.key}/xml?version={definition.version}",
        "notice": notice,
        "flow_choices": _flow_choices(container, principal),
    }
    return _modeler(request, context)


def _flow_choices(container: WebContainer, principal: WebPrincipal) -> list[str]:
    """The deployed integration flows, offered in the "Integration flow" field (a service task
    bound to one runs it); none for someone who may not read flows."""
    try:
        return [flow.flow_id for flow in container.flows.list(principal)]
    except PermissionDenied:
        return []


def _modeler(request: Request, context: dict[str, Any]) -> Response:
    context["field_types"] = FIELD_TYPES
    return render(request, "models/modeler.html", context, headers={"Content-Security-Policy": _editor_csp()})


def _editor_csp() -> str:
    """The site's policy with inline *styles* allowed: bpmn-js (diagram-js) positions and sizes its
    SVG and overlays through style attributes (bpmn.io documents ``'unsafe-inline'`` for
    ``style-src``). Scripts stay ``'self'`` only. The middleware keeps a route's own header."""
    from isthmus.adapters.web import CONTENT_SECURITY_POLICY  # the package imports this module

    return CONTENT_SECURITY_POLICY.replace("style-src 'self'", "style-src 'self' 'unsafe-inline'")
