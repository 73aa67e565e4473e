"""DMN decisions: parse DMN 1.1–1.5 models and evaluate them (decision tables, boxed expressions,
BKMs, decision services), plus a runner for the DMN TCK.

    >>> from isthmus.decisions import evaluate, load_dmn
    >>> result = evaluate(load_dmn("tiered-approval.dmn"), "Approval route", {"amount": 120000})  # doctest: +SKIP
    >>> result.value  # doctest: +SKIP
    {'approver': 'director', 'finance_pre_review': True}
"""

from __future__ import annotations

from ._api import evaluate, invoke_decision_service, load_dmn_set, to_json_value
from ._deployment import (
    DecisionInfo,
    DecisionInput,
    DecisionKind,
    DeployedModel,
    ModelDraft,
    content_hash,
    prepare_model,
)
from ._dmn_xml import DMN_NAMESPACES, load_dmn, parse_dmn
from ._engine import DecisionEngine, DecisionResult
from ._model import Aggregation, Definitions, HitPolicy
from ._tck import TckCaseResult, TckReport, run_tck, tck_equal

__all__ = [
    "DMN_NAMESPACES",
    "Aggregation",
    "DecisionEngine",
    "DecisionInfo",
    "DecisionInput",
    "DecisionKind",
    "DecisionResult",
    "Definitions",
    "DeployedModel",
    "HitPolicy",
    "ModelDraft",
    "TckCaseResult",
    "TckReport",
    "content_hash",
    "evaluate",
    "invoke_decision_service",
    "load_dmn",
    "load_dmn_set",
    "parse_dmn",
    "prepare_model",
    "run_tck",
    "tck_equal",
    "to_json_value",
]
