"""pm4py as the numeric reference (a test-only dependency: AGPL, never imported by ``src/``)."""

from __future__ import annotations

import contextlib
import io
import warnings
from pathlib import Path
from typing import Any

import pandas as pd

EVENTLOGS = Path("/work/shared/data/eventlogs")


def pm4py() -> Any:
    """Import pm4py quietly (it prints a banner and warns about optional packages)."""
    with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
        warnings.simplefilter("ignore")
        import pm4py as module

        module.util.constants.SHOW_PROGRESS_BAR = False
    return module


def frame(path: Path) -> pd.DataFrame:
    """The log as pm4py reads it, sorted as pm4py's ``format_dataframe`` sorts (case, time, index)."""
    pm = pm4py()
    with warnings.catch_warnings(), contextlib.redirect_stderr(io.StringIO()):
        warnings.simplefilter("ignore")
        if path.suffix == ".csv":
            raw = pd.read_csv(path)
            df = pm.format_dataframe(
                raw, case_id="case:concept:name", activity_key="concept:name", timestamp_key="time:timestamp"
            )
        else:
            df = pm.read_xes(str(path), show_progress_bar=False)
            df["@@index"] = range(len(df))
            df = df.sort_values(["case:concept:name", "time:timestamp", "@@index"], kind="stable")
    return df.reset_index(drop=True)


def call(name: str, *args: Any, **kwargs: Any) -> Any:
    pm = pm4py()
    with warnings.catch_warnings(), contextlib.redirect_stderr(io.StringIO()):
        warnings.simplefilter("ignore")
        return getattr(pm, name)(*args, **kwargs)
