"""Cells of an image study: parsing plan-style cell ids, one info row per cell, reading order and
legend labels shared by every image figure.

A *cell* is one hyper-parameter setting, identified by the ``cell`` column (ids like
``dcgan64-non_saturating-ad0.6-ag1-lr0.0005``, see :func:`gansweep.plan.image_cells`).
A cell *family* is a cell without its D learning rate: the vs-lr figures draw one line per
family. Objectives without α parameters have NaN α_D/α_G.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

import numpy as np
import pandas as pd

from gansweep.figures.common import num_text, pretty_objective

INFO = ["architecture", "objective", "alpha_d", "alpha_g", "lr_d", "lr_g"]


OBJECTIVE_NAMES = {"lsgan": "LSGAN", "wgan": "WGAN", "wgan_gp": "WGAN-GP"}  # else pretty
ALPHA = r"($\alpha_D$, $\alpha_G$)"
LR_D, LR_G = r"lr$_D$", r"lr$_G$"
_NUMBER = r"[0-9.]+(?:e[-+]?[0-9]+)?"
_CELL_ID = re.compile(
    rf"^(?P<architecture>[^-]+)-(?P<objective>\w+)"
    rf"(?:-ad(?P<alpha_d>{_NUMBER})-ag(?P<alpha_g>{_NUMBER}))?"
    rf"-lr(?P<lr_d>{_NUMBER})(?:-lrg(?P<lr_g>{_NUMBER}))?(?P<extra>-.+)?$"
)


def _parse_cell(cell: str) -> dict | None:
    """Fields of a plan-style cell id (``arch-objective[-adX-agY]-lrZ[-lrgW][-overrides]``)."""
    m = _CELL_ID.match(str(cell))
    if m is None:
        return None
    out = m.groupdict()
    for key in ("alpha_d", "alpha_g", "lr_d", "lr_g"):
        out[key] = float(out[key]) if out[key] is not None else np.nan
    if np.isnan(out["lr_g"]):
        out["lr_g"] = out["lr_d"]
    out["extra"] = (out["extra"] or "").lstrip("-")
    return out


def _cell_info(cells: Iterable[str], *tables: pd.DataFrame) -> pd.DataFrame:
    """One row per cell (index: cell id) with INFO columns, ``extra`` (the id's override
    suffix, e.g. ``batch_size64-n_critic5``) and ``known`` (False: label = the id).
    Table columns take precedence over what the id says."""
    rows = {}
    for cell in dict.fromkeys(map(str, cells)):
        parsed = _parse_cell(cell)
        row = dict.fromkeys(INFO, np.nan) | {"extra": "", "known": parsed is not None}
        rows[cell] = row | (parsed or {})
    info = pd.DataFrame.from_dict(rows, orient="index", columns=INFO + ["extra", "known"])
    info[["architecture", "objective", "extra"]] = info[
        ["architecture", "objective", "extra"]
    ].astype(object)
    for table in tables:
        if table is None or "cell" not in table or table.empty:
            continue
        cols = [c for c in INFO if c in table]
        first = (
            table.assign(cell=table["cell"].astype(str)).drop_duplicates("cell").set_index("cell")
        )
        first = first.loc[first.index.intersection(info.index), cols]
        for col in cols:
            text = col in ("architecture", "objective")
            info.loc[first.index, col] = (
                first[col] if text else pd.to_numeric(first[col], errors="coerce")
            )
        if "objective" in cols:
            info.loc[first.index, "known"] = first["objective"].notna()
    for col in ("alpha_d", "alpha_g", "lr_d", "lr_g"):
        info[col] = pd.to_numeric(info[col], errors="coerce").astype(float)
    info["lr_g"] = info["lr_g"].fillna(info["lr_d"])
    info["known"] = info["known"].astype(bool)
    return _sort_info(info)


def _sort_info(info: pd.DataFrame) -> pd.DataFrame:
    """Cells in a stable reading order: architecture, α objectives before the others,
    objective, α_D, α_G, lr."""
    order = info.assign(_id=info.index, _no_alpha=info["alpha_d"].isna()).sort_values(
        [
            "architecture",
            "_no_alpha",
            "objective",
            "alpha_d",
            "alpha_g",
            "lr_d",
            "lr_g",
            "extra",
            "_id",
        ],
        na_position="last",
        kind="stable",
    )
    return info.loc[order.index]


def _objective_name(objective) -> str:
    return OBJECTIVE_NAMES.get(str(objective), pretty_objective(objective))


def _labels(info: pd.DataFrame, skip_lr: bool = False, sep: str = ", ") -> dict[str, str]:
    """Cell id → legend label: architecture (if it varies), objective and/or
    '(αD, αG) = (0.6, 1)', lr (if it varies and not ``skip_lr``), lr_G (if ever ≠ lr_D).
    Cells whose labels would coincide get their id's override suffix, then their id."""
    known = info[info["known"]]
    show_arch = known["architecture"].nunique() > 1
    alpha_cells = known[known["alpha_d"].notna()]
    alpha_objectives = alpha_cells["objective"].nunique()
    combos = (
        alpha_cells.groupby("objective")[["alpha_d", "alpha_g"]]
        .apply(lambda g: len(g.drop_duplicates()))
        .to_dict()
    )
    show_lr = not skip_lr and known["lr_d"].nunique() > 1
    show_lr_g = bool((known["lr_g"] != known["lr_d"]).any())
    labels = {}
    for cell, row in info.iterrows():
        if not row["known"]:
            labels[cell] = str(cell)
            continue
        parts = [str(row["architecture"])] if show_arch else []
        name = _objective_name(row["objective"])
        if pd.notna(row["alpha_d"]):
            alpha = f"{ALPHA} = ({num_text(row['alpha_d'])}, {num_text(row['alpha_g'])})"
            both = alpha_objectives > 1 or combos.get(row["objective"], 1) == 1
            parts.append(f"{name} {alpha}" if both else alpha)
        else:
            parts.append(name)
        if show_lr:
            parts.append(f"{LR_D if show_lr_g else 'lr'} = {num_text(row['lr_d'])}")
        if show_lr_g:
            parts.append(f"{LR_G} = {num_text(row['lr_g'])}")
        labels[cell] = sep.join(parts)
    # Disambiguate: a label must name one cell (per lr_D when the lr is on an axis).
    key = pd.DataFrame({"label": pd.Series(labels), "lr": info["lr_d"].fillna(-1.0)})
    if not skip_lr:
        key["lr"] = 0.0
    for _ in range(2):
        clash = key.duplicated(["label", "lr"], keep=False)
        if not clash.any():
            break
        for label in key.loc[clash, "label"].unique():
            for cell in key.index[key["label"] == label]:
                extra = info.at[cell, "extra"]
                longer = extra and not label.endswith(extra)
                key.at[cell, "label"] = f"{label}{sep}{extra}" if longer else str(cell)
    return key["label"].to_dict()
