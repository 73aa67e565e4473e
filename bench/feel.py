"""Benchmark: compiled FEEL against a plain lambda, a naive tree walker, JMESPath, JSONata, and batch mode.

Run ``.venv/bin/python bench/feel.py`` (small sizes) or ``--rows 1000000`` for the batch part.
Each scenario is measured best-of-3; the ratio column is time per evaluation / the plain lambda's.
"""

from __future__ import annotations

import argparse
import platform
import time
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import polars as pl
from lark import Token, Tree

from isthmus.feel import compile_batch, compile_expression, compile_unary_tests
from isthmus.feel._parser import parse

CONDITION = 'amount > 50000 and region = "华东"'
MAPPING = (
    "{id: order.id, customer: upper case(order.customer), total: order.qty * order.price, "
    "region: order.region, vip: order.qty > 10, sku: order.sku, qty: order.qty, "
    "price: order.price, channel: order.channel, currency: order.currency}"
)
JMESPATH_MAPPING = (
    "{id: order.id, customer: order.customer, total: order.qty, region: order.region, vip: order.vip, "
    "sku: order.sku, qty: order.qty, price: order.price, channel: order.channel, currency: order.currency}"
)
JSONATA_MAPPING = (
    '{"id": order.id, "customer": $uppercase(order.customer), "total": order.qty * order.price, '
    '"region": order.region, "vip": order.qty > 10, "sku": order.sku, "qty": order.qty, '
    '"price": order.price, "channel": order.channel, "currency": order.currency}'
)
ORDER = {
    "id": "SO-1",
    "customer": "acme",
    "qty": Decimal(12),
    "price": Decimal("9.5"),
    "region": "华东",
    "sku": "A-1",
    "channel": "web",
    "currency": "CNY",
}
REGIONS = ["华东", "华北", "华南", "西南"]


# -- the "interpreted" baseline: walk the same parse tree on every evaluation ------------------------
class NaiveInterpreter:
    """A deliberately plain tree walker over the Lark parse tree (a subset of FEEL)."""

    def run(self, node: Any, env: dict[str, Any]) -> Any:
        if isinstance(node, Token):
            raise TypeError(node)
        return getattr(self, "n_" + str(node.data))(node, env)

    def n_start(self, node: Tree[Token], env: dict[str, Any]) -> Any:
        return self.run(node.children[0], env)

    def n_number(self, node: Tree[Token], env: dict[str, Any]) -> Any:
        return Decimal(str(node.children[0]))

    def n_string(self, node: Tree[Token], env: dict[str, Any]) -> Any:
        return str(node.children[0])

    def n_name(self, node: Tree[Token], env: dict[str, Any]) -> Any:
        return env.get(" ".join(str(t) for t in node.children))

    def n_path(self, node: Tree[Token], env: dict[str, Any]) -> Any:
        base = self.run(node.children[0], env)
        return (
            base.get(" ".join(str(t) for t in node.children[1].children)) if isinstance(base, dict) else None
        )  # type: ignore[union-attr]

    def n_compare(self, node: Tree[Token], env: dict[str, Any]) -> Any:
        a, b = self.run(node.children[0], env), self.run(node.children[2], env)
        op = str(node.children[1].children[0])  # type: ignore[union-attr]
        if a is None or b is None or type(a) is not type(b):
            return None if op != "=" else a is b
        return {"=": a == b, "!=": a != b, "<": a < b, "<=": a <= b, ">": a > b, ">=": a >= b}[op]

    def n_and_(self, node: Tree[Token], env: dict[str, Any]) -> Any:
        a = self.run(node.children[0], env)
        b = self.run(node.children[1], env)
        return False if a is False or b is False else (True if a is True and b is True else None)

    def n_arith(self, node: Tree[Token], env: dict[str, Any]) -> Any:
        a, b = self.run(node.children[0], env), self.run(node.children[2], env)
        op = str(node.children[1])
        if not isinstance(a, Decimal) or not isinstance(b, Decimal):
            return None
        return {"+": a + b, "-": a - b, "*": a * b, "/": a / b if b else None}[op]

    def n_context(self, node: Tree[Token], env: dict[str, Any]) -> Any:
        result: dict[str, Any] = {}
        for entry in node.children:
            key = " ".join(str(t) for t in entry.children[0].children)  # type: ignore[union-attr]
            result[key] = self.run(entry.children[1], {**env, **result})  # type: ignore[union-attr]
        return result

    def n_call(self, node: Tree[Token], env: dict[str, Any]) -> Any:
        name = " ".join(str(t) for t in node.children[0].children)  # type: ignore[union-attr]
        args = [self.run(a, env) for a in node.children[1].children]  # type: ignore[union-attr]
        if name == "upper case" and isinstance(args[0], str):
            return args[0].upper()
        return None

    def n_range(self, node: Tree[Token], env: dict[str, Any]) -> Any:
        return (
            str(node.children[0]) == "[",
            self.run(node.children[1], env),
            self.run(node.children[2], env),
            str(node.children[3].children[0]) == "]",  # type: ignore[union-attr]
        )

    def test(self, node: Any, value: Any, env: dict[str, Any]) -> bool:
        """One unary test of a rule, walked per call."""
        if node.data == "range":
            lo_in, lo, hi, hi_in = self.run(node, env)
            return (lo < value or (lo_in and lo == value)) and (value < hi or (hi_in and value == hi))
        return bool(self.run(node, env) == value)


# -- measurement ----------------------------------------------------------------------------------------
def per_call(fn: Callable[[], Any], seconds: float = 0.4) -> float:
    """Best-of-3 seconds per call."""
    best = float("inf")
    for _ in range(3):
        count, started = 0, time.perf_counter()
        while True:
            for _ in range(100):
                fn()
            count += 100
            elapsed = time.perf_counter() - started
            if elapsed > seconds / 3:
                break
        best = min(best, elapsed / count)
    return best


def row(scenario: str, engine: str, seconds: float, baseline: float) -> tuple[str, str, float, float]:
    return scenario, engine, 1 / seconds, seconds / baseline


def bench_condition() -> list[tuple[str, str, float, float]]:
    ctx = {"amount": Decimal(60000), "region": "华东"}
    compiled = compile_expression(CONDITION)
    tree, naive = parse(CONDITION), NaiveInterpreter()
    condition = lambda c: c["amount"] > 50000 and c["region"] == "华东"  # noqa: E731
    lam = lambda: condition(ctx)  # noqa: E731
    assert compiled.evaluate(ctx) is True
    assert naive.run(tree, ctx) is True
    assert lam()
    base = per_call(lam)
    rows = [
        row("condition", "plain lambda", base, base),
        row("condition", "compiled FEEL", per_call(lambda: compiled.evaluate(ctx)), base),
        row("condition", "naive tree walker", per_call(lambda: naive.run(tree, ctx)), base),
    ]
    rows += _peers(
        "condition",
        "amount > `50000` && region == '华东'",
        'amount > 50000 and region = "华东"',
        {"amount": 60000, "region": "华东"},
        base,
    )
    return rows


def _rules() -> list[tuple[str, str]]:
    return [(f"[{i * 5000}..{(i + 1) * 5000})", f'"{REGIONS[i % 4]}"') for i in range(20)]


def bench_table() -> list[tuple[str, str, float, float]]:
    rules = _rules()
    compiled = [(compile_unary_tests(a), compile_unary_tests(r)) for a, r in rules]
    naive, trees = (
        NaiveInterpreter(),
        [(parse(a, start="tests").children[0], parse(r, start="tests").children[0]) for a, r in rules],
    )
    python = [(i * 5000, (i + 1) * 5000, REGIONS[i % 4]) for i in range(20)]
    amount, region = Decimal(97000), REGIONS[19 % 4]

    empty: dict[str, Any] = {}

    def feel_hit() -> int:
        for index, (a, r) in enumerate(compiled):
            if a.matches(amount, empty) and r.matches(region, empty):
                return index
        return -1

    def lambda_hit() -> int:
        return python_table(amount, region)

    def python_table(amount: Decimal, region: str) -> int:
        for index, (low, high, reg) in enumerate(python):
            if low <= amount < high and region == reg:
                return index
        return -1

    def naive_hit() -> int:
        for index, (a, r) in enumerate(trees):
            if naive.test(a, amount, {}) and naive.test(r, region, {}):
                return index
        return -1

    assert feel_hit() == lambda_hit() == naive_hit() == 19
    base = per_call(lambda_hit)
    return [
        row("20-rule table (first hit)", "plain lambda", base, base),
        row("20-rule table (first hit)", "compiled FEEL", per_call(feel_hit), base),
        row("20-rule table (first hit)", "naive tree walker", per_call(naive_hit), base),
    ]


def bench_mapping() -> list[tuple[str, str, float, float]]:
    ctx = {"order": ORDER}
    compiled, tree, naive = compile_expression(MAPPING), parse(MAPPING), NaiveInterpreter()

    def mapping(c: dict[str, Any]) -> dict[str, Any]:
        o = c["order"]
        return {
            "id": o["id"], "customer": o["customer"].upper(), "total": o["qty"] * o["price"],
            "region": o["region"], "vip": o["qty"] > 10, "sku": o["sku"], "qty": o["qty"],
            "price": o["price"], "channel": o["channel"], "currency": o["currency"],
        }  # fmt: skip

    lam = lambda: mapping(ctx)  # noqa: E731
    assert compiled.evaluate(ctx) == lam() == naive.run(tree, ctx)
    base = per_call(lam)
    json_ctx = {"order": {**{k: v for k, v in ORDER.items()}, "qty": 12, "price": 9.5, "vip": True}}
    rows = [
        row("10-field mapping", "plain lambda", base, base),
        row("10-field mapping", "compiled FEEL", per_call(lambda: compiled.evaluate(ctx)), base),
        row("10-field mapping", "naive tree walker", per_call(lambda: naive.run(tree, ctx)), base),
    ]
    return rows + _peers("10-field mapping", JMESPATH_MAPPING, JSONATA_MAPPING, json_ctx, base)


def _peers(
    scenario: str, jmes: str, jsonata_text: str, data: dict[str, Any], base: float
) -> list[tuple[str, str, float, float]]:
    rows = []
    try:
        import jmespath

        compiled_jmes = jmespath.compile(jmes)
        rows.append(row(scenario, "JMESPath (compiled)", per_call(lambda: compiled_jmes.search(data)), base))
    except ImportError:
        print("(JMESPath not installed: skipped)")
    try:
        import jsonata

        compiled_jsonata = jsonata.Jsonata(jsonata_text)
        rows.append(row(scenario, "jsonata-python", per_call(lambda: compiled_jsonata.evaluate(data)), base))
    except ImportError:
        print("(jsonata-python not installed: skipped)")
    return rows


def bench_batch(rows_count: int) -> list[tuple[str, str, float, float]]:
    text = 'if amount > 50000 and region = "华东" then upper case(sku) else lower case(sku)'
    frame = pl.DataFrame(
        {
            "amount": [i * 37 % 100000 for i in range(rows_count)],
            "region": [REGIONS[i % 4] for i in range(rows_count)],
            "sku": [f"Sku-{i % 97}" for i in range(rows_count)],
        }
    )
    batch = compile_batch(text)
    assert batch.to_polars() is not None
    row_sample = frame.head(min(rows_count, 20000))
    started = time.perf_counter()
    vectorised = batch.evaluate_frame(frame)
    polars_time = (time.perf_counter() - started) / rows_count
    started = time.perf_counter()
    row_wise = batch.evaluate_rows(row_sample)
    rows_time = (time.perf_counter() - started) / row_sample.height
    assert vectorised.head(row_sample.height).to_list() == row_wise.to_list()
    label = f"batch mapping ({rows_count:,} rows)"
    return [
        row(label, "row-wise compiled FEEL", rows_time, rows_time),
        row(label, "batch (Polars)", polars_time, rows_time),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=100_000, help="rows for the batch part")
    args = parser.parse_args()
    results = bench_condition() + bench_table() + bench_mapping() + bench_batch(args.rows)
    print(f"Python {platform.python_version()} on {platform.machine()}, polars {pl.__version__}")
    print(f"| {'scenario':<34} | {'engine':<24} | {'evals/s':>12} | {'× baseline':>10} |")
    print(f"|{'-' * 36}|{'-' * 26}|{'-' * 14}:|{'-' * 11}:|")
    for scenario, engine, rate, ratio in results:
        print(f"| {scenario:<34} | {engine:<24} | {rate:>12,.0f} | {ratio:>10.2f} |")
    print("(× baseline: time per evaluation relative to the first row of each scenario; lower is faster)")


if __name__ == "__main__":
    main()
