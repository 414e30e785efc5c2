"""Plotly figures in one visual language: a colour-blind-safe palette, labelled axes with units.

Figures are plain ``plotly.graph_objects`` built from polars columns (no pandas). The page
embeds plotly.js once and draws each figure from its JSON, so the file needs no network.
"""

from __future__ import annotations

from collections.abc import Sequence

import plotly.graph_objects as go
import polars as pl

# Okabe & Ito (2008): distinguishable under the common colour-vision deficiencies.
PALETTE = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#000000")
# Sequential scale for heatmaps: viridis is perceptually uniform and colour-blind safe.
SEQUENTIAL = "Viridis"
MUTED = "#7f7f7f"
HEIGHT = 380


def figure(x_title: str, y_title: str, *, height: int = HEIGHT, y_format: str | None = None,
           x_format: str | None = None) -> go.Figure:
    """An empty figure with the report's layout; titles must carry units, e.g. 'revenue (currency)'."""
    fig = go.Figure()
    fig.update_layout(
        template="plotly_white", colorway=list(PALETTE), height=height,
        margin={"l": 70, "r": 20, "t": 30, "b": 60}, font={"size": 13},
        legend={"orientation": "h", "yanchor": "bottom", "y": 1.02, "xanchor": "left", "x": 0},
        xaxis={"title": {"text": x_title}, "tickformat": x_format},
        yaxis={"title": {"text": y_title}, "tickformat": y_format},
    )
    return fig


def colour(i: int) -> str:
    return PALETTE[i % len(PALETTE)]


def error_bars(frame: pl.DataFrame, value: str, lower: str, upper: str) -> dict | None:
    """Asymmetric error bars from interval columns (None when the frame has no intervals)."""
    if lower not in frame.columns or upper not in frame.columns or frame[lower].null_count() == frame.height:
        return None
    return {
        "type": "data", "symmetric": False, "color": MUTED, "thickness": 1.5,
        "array": (frame[upper] - frame[value]).fill_null(0).to_list(),
        "arrayminus": (frame[value] - frame[lower]).fill_null(0).to_list(),
    }


def bars_by_group(frame: pl.DataFrame, x: str, y: str, group: str | None, *, x_title: str, y_title: str,
                  y_format: str | None = None, ci: tuple[str, str] | None = None,
                  barmode: str = "group", height: int = HEIGHT) -> go.Figure:
    """One bar trace per value of `group` (or one trace), with optional CI columns as error bars."""
    fig = figure(x_title, y_title, y_format=y_format, height=height)
    groups = [(None, frame)] if group is None else [
        (key[0], part) for key, part in frame.group_by(group, maintain_order=True)
    ]
    for i, (name, part) in enumerate(groups):
        fig.add_bar(
            x=part[x].cast(pl.String).to_list(), y=part[y].to_list(), name=None if name is None else str(name),
            marker_color=colour(i), error_y=error_bars(part, y, *ci) if ci else None,
            showlegend=group is not None,
        )
    fig.update_layout(barmode=barmode)
    return fig


def lines_by_group(frame: pl.DataFrame, x: str, y: str, group: str, *, x_title: str, y_title: str,
                   y_format: str | None = None, shape: str = "linear", highlight: Sequence[str] = ()) -> go.Figure:
    """One line per value of `group`, sorted by x; `highlight` values are drawn thicker in black."""
    fig = figure(x_title, y_title, y_format=y_format)
    for i, (key, part) in enumerate(frame.sort(x).group_by(group, maintain_order=True)):
        name = str(key[0])
        bold = name in highlight
        fig.add_scatter(
            x=part[x].to_list(), y=part[y].to_list(), name=name, mode="lines+markers", line_shape=shape,
            line={"color": "#000000" if bold else colour(i), "width": 3.5 if bold else 2,
                  "dash": "dash" if bold else "solid"},
        )
    return fig
