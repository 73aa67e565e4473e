"""Fixtures the service tests share: the sandbox CRM API on loopback and the CRM→ERP flow deployed to it."""

from __future__ import annotations

import pytest

from isthmus.bootstrap import Container
from isthmus.demo.integration import SandboxApi
from isthmus.security import SYSTEM


@pytest.fixture
def deployed(container: Container, api: SandboxApi) -> Container:
    from tests.services.test_integration import FLOW

    container.flows.deploy(SYSTEM, FLOW.format(url=api.url), "crm-erp-orders.yaml")
    return container
