"""Small DMN documents built in tests, so each test shows the model it runs."""

from __future__ import annotations

from xml.sax.saxutils import escape

from isthmus.decisions import Definitions, parse_dmn

DMN15 = "https://www.omg.org/spec/DMN/20230324/MODEL/"


def model(
    body: str, *, namespace: str = DMN15, name: str = "test", model_ns: str = "urn:test"
) -> Definitions:
    """A ``<definitions>`` wrapping ``body`` in the given DMN namespace."""
    return parse_dmn(
        f'<definitions xmlns="{namespace}" name="{name}" namespace="{model_ns}" id="defs">{body}</definitions>',
        source=f"{name}.dmn",
    )


def input_data(name: str, type_ref: str = "Any") -> str:
    return f'<inputData id="{name}" name="{name}"><variable name="{name}" typeRef="{type_ref}"/></inputData>'


def table(
    rules: list[tuple[list[str], list[str]]],
    *,
    inputs: list[str],
    outputs: list[str] | None = None,
    hit_policy: str = "UNIQUE",
    aggregation: str = "",
    output_values: str = "",
    decision: str = "d",
    type_ref: str = "Any",
) -> Definitions:
    """A decision ``decision`` holding one decision table over input data named ``inputs``."""
    outputs = outputs or ["out"]
    agg = f' aggregation="{aggregation}"' if aggregation else ""
    ins = "".join(f"<input><inputExpression><text>{i}</text></inputExpression></input>" for i in inputs)
    values = f"<outputValues><text>{output_values}</text></outputValues>" if output_values else ""
    outs = "".join(f'<output name="{o}">{values}</output>' for o in outputs)
    rows = "".join(
        f'<rule id="r{n + 1}">'
        + "".join(f"<inputEntry><text>{escape(e)}</text></inputEntry>" for e in ins_)
        + "".join(f"<outputEntry><text>{escape(e)}</text></outputEntry>" for e in outs_)
        + "</rule>"
        for n, (ins_, outs_) in enumerate(rules)
    )
    reqs = "".join(
        f'<informationRequirement><requiredInput href="#{i}"/></informationRequirement>' for i in inputs
    )
    body = (
        f'<decision id="{decision}" name="{decision}"><variable name="{decision}" typeRef="{type_ref}"/>{reqs}'
        f'<decisionTable hitPolicy="{hit_policy}"{agg}>{ins}{outs}{rows}</decisionTable></decision>'
        + "".join(input_data(i) for i in inputs)
    )
    return model(body)


def literal_decision(
    name: str,
    text: str,
    *,
    type_ref: str = "Any",
    requires: tuple[str, ...] = (),
    decisions: tuple[str, ...] = (),
    knowledge: tuple[str, ...] = (),
) -> str:
    reqs = "".join(
        f'<informationRequirement><requiredInput href="#{r}"/></informationRequirement>' for r in requires
    )
    reqs += "".join(
        f'<informationRequirement><requiredDecision href="#{r}"/></informationRequirement>' for r in decisions
    )
    reqs += "".join(
        f'<knowledgeRequirement><requiredKnowledge href="#{k}"/></knowledgeRequirement>' for k in knowledge
    )
    return (
        f'<decision id="{name}" name="{name}"><variable name="{name}" typeRef="{type_ref}"/>{reqs}'
        f"<literalExpression><text>{text}</text></literalExpression></decision>"
    )
