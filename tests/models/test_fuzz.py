"""Property tests: generated models round-trip; mangled files fail cleanly (an IsthmusError, never a crash)."""

from __future__ import annotations

import itertools
from pathlib import Path
from xml.sax.saxutils import quoteattr

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from isthmus.errors import IsthmusError
from isthmus.models import parse_bpmn, same_document, validate

from ._builders import NAMESPACES
from ._files import MIWG_FILES

BLANKS = ["", " ", "\n  ", "\t"]
KINDS = ["task", "userTask", "serviceTask", "scriptTask", "manualTask", "exclusiveGateway", "parallelGateway"]
texts = st.text(
    alphabet=st.characters(blacklist_categories=("Cs", "Cc"), blacklist_characters="\ufffe\uffff"),
    max_size=20,
)
ids = st.from_regex(r"[A-Za-z_][A-Za-z0-9_.-]{0,12}", fullmatch=True)


@st.composite
def documents(draw: st.DrawFn) -> bytes:
    """A chain start → nodes → end with random names, isthmus: attributes, comments and whitespace."""
    node_ids = draw(
        st.lists(ids, min_size=1, max_size=8, unique=True).filter(lambda xs: not {"s", "e"} & set(xs))
    )
    parts = ['<startEvent id="s"/>']
    for node_id in node_ids:
        kind = draw(st.sampled_from(KINDS))
        attrs = f" id={quoteattr(node_id)} name={quoteattr(draw(texts))}"
        if draw(st.booleans()):
            attrs += f" isthmus:owner={quoteattr(draw(texts))} isthmus:sla={quoteattr(draw(texts))}"
        comment = f"<!--{draw(texts).replace('-', '_')}-->" if draw(st.booleans()) else ""
        blank = draw(st.sampled_from(BLANKS))
        parts.append(f"<{kind}{attrs}/>{comment}{blank}")
    parts.append('<endEvent id="e"/>')
    chain = ["s", *node_ids, "e"]
    for i, (a, b) in enumerate(itertools.pairwise(chain)):
        parts.append(f'<sequenceFlow id="f{i}" sourceRef={quoteattr(a)} targetRef={quoteattr(b)}/>')
    encoding = draw(st.sampled_from(["UTF-8", "UTF-16", "ISO-8859-1"]))
    body = (
        f'<?xml version="1.0" encoding="{encoding}"?>\n'
        f'<definitions {NAMESPACES} id="d"><process id="p" isExecutable="true">{"".join(parts)}</process></definitions>'
    )
    try:
        return body.encode(encoding)
    except UnicodeEncodeError:
        return body.replace(f'encoding="{encoding}"', 'encoding="UTF-8"').encode("utf-8")


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(documents())
def test_generated_models_round_trip(data: bytes) -> None:
    model = parse_bpmn(data)
    assert model.to_xml() == data
    again = parse_bpmn(model.serialize())
    assert same_document(model.serialize(), data)
    assert again.processes == model.processes
    assert again.encoding == model.encoding
    validate(model)  # never raises


@settings(max_examples=200, deadline=None)
@given(
    st.sampled_from(MIWG_FILES),
    st.lists(st.tuples(st.floats(0, 1), st.binary(max_size=3)), min_size=1, max_size=4),
)
def test_mangled_files_fail_cleanly(path: Path, cuts: list[tuple[float, bytes]]) -> None:
    data = bytearray(path.read_bytes())
    for where, replacement in cuts:
        at = int(where * (len(data) - 1))
        data[at : at + len(replacement) + 1] = replacement
    try:
        model = parse_bpmn(bytes(data))
    except IsthmusError:
        return
    validate(model)
    assert parse_bpmn(model.to_xml()).processes == model.processes
