"""Boxed expressions: contexts, lists, relations, invocations, functions, DMN 1.4 conditional,
iterators and filter, business knowledge models and decision services."""

from __future__ import annotations

from decimal import Decimal

from isthmus.decisions import DecisionEngine, DecisionResult, evaluate, invoke_decision_service

from ._builders import input_data, literal_decision, model

TWO, A, B, BIG, SMALL = '"two"', '"a"', '"b"', '"big"', '"small"'


def _lit(text: str) -> str:
    return f"<literalExpression><text>{text}</text></literalExpression>"


def _decision(name: str, inner: str, extra: str = "") -> str:
    return f'<decision id="{name}" name="{name}">{extra}{inner}</decision>'


def test_context_with_final_result_and_function_entry() -> None:
    ctx = (
        "<context>"
        f'<contextEntry><variable name="a"/>{_lit("2")}</contextEntry>'
        '<contextEntry><variable name="sq"/><functionDefinition><formalParameter name="n"/>'
        f"{_lit('n * n')}</functionDefinition></contextEntry>"
        f"<contextEntry>{_lit('sq(a) + 1')}</contextEntry>"
        "</context>"
    )
    assert evaluate(model(_decision("d", ctx)), "d", {}).value == Decimal(5)


def test_context_without_final_result_is_a_context() -> None:
    ctx = (
        f'<context><contextEntry><variable name="a b"/>{_lit("1")}</contextEntry>'
        f'<contextEntry><variable name="c"/>{_lit("a b + 1")}</contextEntry></context>'
    )
    assert evaluate(model(_decision("d", ctx)), "d", {}).value == {"a b": Decimal(1), "c": Decimal(2)}


def test_list_and_relation() -> None:
    lst = f"<list>{_lit('1')}{_lit(TWO)}</list>"
    rel = (
        '<relation><column name="n"/><column name="s"/>'
        f"<row>{_lit('1')}{_lit(A)}</row><row>{_lit('2')}{_lit(B)}</row></relation>"
    )
    m = model(_decision("l", lst) + _decision("r", rel))
    assert evaluate(m, "l", {}).value == [Decimal(1), "two"]
    assert evaluate(m, "r", {}).value == [{"n": Decimal(1), "s": "a"}, {"n": Decimal(2), "s": "b"}]


BKM = (
    '<businessKnowledgeModel id="fee" name="Fee calc"><variable name="Fee calc"/>'
    '<encapsulatedLogic><formalParameter name="amount" typeRef="number"/><formalParameter name="rate"/>'
    f"{_lit('amount * rate')}</encapsulatedLogic></businessKnowledgeModel>"
)


def test_invocation_binds_parameters_by_name() -> None:
    inv = (
        f"<invocation>{_lit('Fee calc')}"
        f'<binding><parameter name="rate"/>{_lit("0.1")}</binding>'
        f'<binding><parameter name="amount"/>{_lit("200")}</binding></invocation>'
    )
    extra = '<knowledgeRequirement><requiredKnowledge href="#fee"/></knowledgeRequirement>'
    assert evaluate(model(BKM + _decision("d", inv, extra)), "d", {}).value == Decimal(20)


def test_bkm_is_callable_from_feel_positionally_and_by_name() -> None:
    body = BKM + literal_decision(
        "d", "Fee calc(100, 0.5) + Fee calc(rate: 1, amount: 1)", knowledge=("fee",)
    )
    assert evaluate(model(body), "d", {}).value == Decimal(51)


def test_boxed_conditional_iterators_and_filter() -> None:
    cond = f"<conditional><if>{_lit('x > 1')}</if><then>{_lit(BIG)}</then><else>{_lit(SMALL)}</else></conditional>"
    loop = f'<for iteratorVariable="i"><in>{_lit("[1, 2]")}</in><return>{_lit("i * x")}</return></for>'
    some = (
        f'<some iteratorVariable="i"><in>{_lit("[1, 5]")}</in><satisfies>{_lit("i > x")}</satisfies></some>'
    )
    every = (
        f'<every iteratorVariable="i"><in>{_lit("[1, 5]")}</in><satisfies>{_lit("i > x")}</satisfies></every>'
    )
    filt = f"<filter><in>{_lit('[{a: 1}, {a: 3}]')}</in><match>{_lit('a > x')}</match></filter>"
    req = '<informationRequirement><requiredInput href="#x"/></informationRequirement>'
    body = input_data("x", "number") + "".join(
        _decision(n, e, req) for n, e in [("c", cond), ("f", loop), ("s", some), ("e", every), ("flt", filt)]
    )
    engine = DecisionEngine([model(body)])
    assert engine.evaluate("c", {"x": Decimal(2)}).value == "big"
    assert engine.evaluate("f", {"x": Decimal(2)}).value == [Decimal(2), Decimal(4)]
    assert engine.evaluate("s", {"x": Decimal(2)}).value is True
    assert engine.evaluate("e", {"x": Decimal(2)}).value is False
    assert engine.evaluate("flt", {"x": Decimal(2)}).value == [{"a": Decimal(3)}]


SERVICE = (
    input_data("a", "string")
    + literal_decision("inner", '"in:" + a', requires=("a",))
    + literal_decision("outer", 'inner + "/out"', decisions=("inner",))
    + '<decisionService id="svc" name="svc"><outputDecision href="#outer"/>'
    '<inputDecision href="#inner"/><inputData href="#a"/></decisionService>'
    + literal_decision("caller", 'svc("ignored", "given")', knowledge=("svc",))
)


def test_decision_service_invoked_from_the_api_takes_input_decisions_as_given() -> None:
    result = invoke_decision_service(model(SERVICE), "svc", {"inner": "fixed"})
    assert result.value == "fixed/out"


def test_decision_service_as_a_feel_function_takes_input_data_then_input_decisions() -> None:
    assert evaluate(model(SERVICE), "caller", {}).value == "given/out"


def _java(cls: str, signature: str) -> str:
    return (
        '<functionDefinition kind="Java"><formalParameter name="a"/><formalParameter name="b"/><context>'
        f'<contextEntry><variable name="class"/>{_lit(chr(34) + cls + chr(34))}</contextEntry>'
        f'<contextEntry><variable name="method signature"/>{_lit(chr(34) + signature + chr(34))}</contextEntry>'
        "</context></functionDefinition>"
    )


def test_java_functions_only_from_the_math_whitelist() -> None:
    def run(cls: str, signature: str) -> DecisionResult:
        ctx = (
            f'<context><contextEntry><variable name="f"/>{_java(cls, signature)}</contextEntry>'
            f"<contextEntry>{_lit('f(123, 456)')}</contextEntry></context>"
        )
        return evaluate(model(_decision("d", ctx)), "d", {})

    assert run("java.lang.Math", "max(double, double)").value == Decimal(456)
    refused = run("java.lang.Runtime", "exec(java.lang.String)")
    assert refused.value is None
    assert any("not available" in w for w in refused.warnings)
