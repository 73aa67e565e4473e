"""Sandbox systems for the guide's three interfaces (CRM→ERP, ERP→finance, OA↔HR).

:class:`SandboxApi` is a small HTTP JSON API with an OAuth 2.0 token endpoint, good for demos and
for tests (it runs on loopback in a thread and can be told to fail). The flow YAMLs of the guide's
table 2 are the ``*.yaml`` files beside this module.
"""

from isthmus.demo.integration._api import SandboxApi
from isthmus.demo.integration._systems import GUIDE_FLOWS, create_erp_tables, flow_text

__all__ = ["GUIDE_FLOWS", "SandboxApi", "create_erp_tables", "flow_text"]
