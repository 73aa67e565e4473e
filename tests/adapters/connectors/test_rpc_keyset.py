"""Property: an RPC source reads every record exactly once, in (write_date, id) order, whatever the
batch size, the ties between timestamps and where a run stops and the next resumes."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from isthmus.adapters.connectors.rpc import RemoteFault, RpcConfig, RpcSource, RpcSourceOptions, RpcTarget
from tests.adapters.connectors.odoo_servers import FakeOdoo, OdooFault


class InProcess:
    """``rpc.Transport`` calling the emulated ERP directly (the wire is tested elsewhere)."""

    def __init__(self, odoo: FakeOdoo) -> None:
        self.odoo = odoo

    def call(self, service: str, method: str, params: Any, timeout_s: float) -> Any:
        try:
            return getattr(self.odoo, method)(*params)
        except OdooFault as fault:
            raise RemoteFault(fault.code, fault.message, fault.name) from fault

    def authorize(self, value: str | None) -> None:
        pass

    def close(self) -> None:
        pass


def source(odoo: FakeOdoo, batch_rows: int) -> RpcSource:
    config = RpcConfig(
        url="inproc://erp",
        method="search_read",
        auth="odoo",
        model="account.move.line",
        database=FakeOdoo.DB,
        username=FakeOdoo.USER,
        password=FakeOdoo.PASSWORD,
    )
    return RpcSource(RpcTarget(config, InProcess(odoo), 1.0), RpcSourceOptions(batch_rows=batch_rows))


@settings(max_examples=60, deadline=None)
@given(
    minutes=st.lists(st.integers(0, 5), min_size=0, max_size=40),
    batch_rows=st.integers(1, 7),
    stops=st.lists(st.integers(1, 4), max_size=4),
    late=st.lists(st.integers(0, 8), max_size=10),
)
def test_every_record_once_in_order(
    minutes: list[int], batch_rows: int, stops: list[int], late: list[int]
) -> None:
    odoo = FakeOdoo()
    for i, minute in enumerate(sorted(minutes)):
        odoo.add_line(f"L{i}", 1.0, f"2024-06-01 10:{minute:02d}:00")
    read: list[str] = []
    mark: Any = None
    for run, batches_this_run in enumerate([*stops, 10_000]):
        if run == 1:  # records written between two runs, some with a timestamp already read
            for j, minute in enumerate(sorted(late)):
                odoo.add_line(f"M{j}", 1.0, f"2024-06-01 10:{max(minute, max(minutes, default=0)):02d}:00")
        reader = source(odoo, batch_rows)
        for count, (_, records) in enumerate(reader.batches(after=mark), start=1):
            read.extend(r["name"] for r in records)
            mark = reader.last_watermark  # what the caller persists after storing the batch
            if count == batches_this_run:
                break
    expected = sorted(odoo.lines, key=lambda r: (r["write_date"], r["id"]))
    assert sorted(read) == sorted(r["name"] for r in odoo.lines)
    assert len(read) == len(set(read))
    assert [r["name"] for r in expected if r["name"].startswith("L")] == [
        n for n in read if n.startswith("L")
    ]
