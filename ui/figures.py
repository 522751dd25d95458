"""The app's Plotly figures: latent maps, the Draw page's marker map and the live loss curves.

Pure functions of arrays (no Streamlit): pages cache what they need through ``ui.resources``.
"""

from __future__ import annotations

import base64

import numpy as np
import plotly.graph_objects as go

from aecore import images

LABEL_COLOURS = images.LABEL_COLOURS


TOOLBAR = 34  # px at the top of a figure that Plotly's toolbar (zoom, camera...) covers


def _frame(title: str, size: int = 12) -> dict:
    """Tight margins and the title, if any, left-aligned just above the plot: below the band the toolbar
    floats in, so on a narrow screen the toolbar never covers it."""
    if not title:
        return {"margin": {"l": 10, "r": 10, "t": 10, "b": 10}}
    return {"margin": {"l": 10, "r": 10, "t": TOOLBAR + round(size * 2), "b": 10},
            "title": {"text": title, "x": 0, "xanchor": "left", "xref": "paper", "y": 1, "yanchor": "bottom",
                      "yref": "paper", "pad": {"b": 6}, "font": {"size": round(size * 1.3)}}}


# A legend in a row above the plot, below the toolbar's band (it grows upwards when it wraps).
TOP_LEGEND = {"orientation": "h", "x": 0, "y": 1.02, "yanchor": "bottom"}
LEGEND_ON_TOP = {"l": 10, "r": 10, "t": TOOLBAR + 40, "b": 10}


def readable(fig, size: int = 18):
    """Type for a projector: every text of the figure (ticks, legend, axis titles, hover, the title) at
    ``size`` px instead of Plotly's 12, the title's band grown to match."""
    fig.update_layout(font={"size": size}, hoverlabel={"font": {"size": size}})
    title = fig.layout.title.text
    if title:
        frame = _frame(title, size)
        fig.update_layout(title=frame["title"], margin={"t": frame["margin"]["t"]})
    return fig


GRID_ROW = -1  # customdata[0] of the decode grid's points: a place to decode, not a test row
HOVER = "test #%{customdata[0]:.0f}<br>label %{customdata[1]:.0f}<br>MSE %{customdata[2]:.4f}<extra></extra>"


def latent_figure(coords, labels, errors=None, color_by: str = "label", rows=None,
                  title: str = "", height: int = 520, dragmode: str = "pan", highlight=None, grid: int = 0,
                  background=None):
    """The mapped test codes as WebGL points whose customdata is (test row, label, error): coloured by label, one
    trace per digit with its legend entry; by error, one trace on a colour scale. With ``grid``, an invisible
    ``grid`` x ``grid`` lattice of clickable points over the whole map (customdata[0] = :data:`GRID_ROW`), empty
    space included, so a click anywhere reports a place to decode. Then rings round the test rows in
    ``highlight`` (a shared selection). ``background``: a (data URI, x range, y range) picture laid under the
    points.

    ``coords`` (M, 2) are the map positions of test rows ``rows`` (default: all, in order)."""
    rows = np.arange(len(coords)) if rows is None else np.asarray(rows)  # test row of each coordinate
    labels = np.asarray(labels)[rows]
    xy = np.asarray(coords, dtype=np.float32)
    err = np.zeros(len(rows)) if errors is None else np.asarray(errors)[rows]
    # float32 halves what the browser decodes; rows and labels stay exact (integers below 2**24)
    custom = np.stack([rows, labels, err], 1).astype(np.float32)
    fig = go.Figure()
    if color_by == "error" and errors is not None:
        fig.add_trace(go.Scattergl(x=xy[:, 0], y=xy[:, 1], mode="markers", customdata=custom, name="test digits",
                                   hovertemplate=HOVER, showlegend=False, marker={
                                       "color": err, "colorscale": "Viridis", "colorbar": {"title": "MSE"}, "size": 4}))
    else:
        # One colour per trace: per-point colours from a scale cost the browser about 0.3 s of every map load
        # (bench/bench_load.py), and the legend hides or shows a digit with a click.
        for digit in np.unique(labels):
            at = labels == digit
            fig.add_trace(go.Scattergl(x=xy[at, 0], y=xy[at, 1], mode="markers", customdata=custom[at],
                                       name=str(int(digit)), hovertemplate=HOVER,
                                       marker={"color": LABEL_COLOURS[int(digit)], "size": 4}))
    if grid:
        (x0, y0), (x1, y1) = xy.min(0), xy.max(0)
        gx, gy = np.meshgrid(np.linspace(x0, x1, grid), np.linspace(y0, y1, grid))
        # WebGL like the digits: scattergl finds the point under the pointer on the CPU, so transparent points
        # still take clicks, and 1,600 SVG nodes cost about 0.1 s of every page load (bench/bench_load.py).
        fig.add_trace(go.Scattergl(x=gx.ravel(), y=gy.ravel(), mode="markers", name="decode here", showlegend=False,
                                   customdata=np.full((gx.size, 1), GRID_ROW, np.float32),
                                   marker={"size": 14, "color": "rgba(0,0,0,0)"},
                                   hovertemplate="click to decode here (%{x:.2f}, %{y:.2f})<extra></extra>"))
    if background is not None:
        uri, xr, yr = background
        fig.add_layout_image(source=uri, xref="x", yref="y", x=xr[0], y=yr[1], sizex=xr[1] - xr[0],
                             sizey=yr[1] - yr[0], sizing="stretch", layer="below", opacity=0.35)
    if highlight is not None and len(highlight):
        where = {int(r): i for i, r in enumerate(rows)}
        at = [where[int(r)] for r in highlight if int(r) in where]
        fig.add_scatter(x=xy[at, 0], y=xy[at, 1], mode="markers", name="shared selection", hoverinfo="skip",
                        showlegend=False,
                        marker={"size": 10, "color": "rgba(0,0,0,0)", "line": {"color": "black", "width": 2}})
    fig.update_layout(height=height, dragmode=dragmode, legend={"title": {"text": "digit"}, "itemsizing": "constant"},
                      **_frame(title))
    return fig


def _uri(png: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(png).decode()


def map_picture(coords, labels) -> tuple[str, tuple, tuple]:
    """The points of a map as one PNG data URI, coloured by label with each label's number on its group, with
    the data ranges it spans."""
    png, xr, yr = images.scatter_png(coords, images.label_rgb(labels), labels=labels)
    return _uri(png), xr, yr


def plane_picture(model, xr: tuple, yr: tuple, n: int = 24) -> tuple[str, tuple, tuple]:
    """A 2-D latent plane decoded on an n x n grid, as a data URI to lay under its map (``background``)."""
    from aecore.generate import decode_plane

    return _uri(images.tile_png(decode_plane(model, xr, yr, n), cols=n, scale=1, pad=0)), xr, yr


def marker_map(picture: tuple[str, tuple, tuple], where, title: str = "", height: int = 420,
               posterior: dict | None = None):
    """A map that changes with every stroke: the test digits are one picture under the axes (``picture``,
    from :func:`map_picture`) and only the marker is data, so a stroke sends a few kB, not the scatter.
    ``posterior`` (from ``projection.posterior_on_map``): a VAE's uncertainty, as an ellipse or samples."""
    uri, xr, yr = picture
    fig = go.Figure()
    if posterior and "samples" in posterior:
        pts = posterior["samples"]
        fig.add_scatter(x=pts[:, 0], y=pts[:, 1], mode="markers", name="samples of q(z|x)", hoverinfo="name",
                        marker={"size": 7, "color": "rgba(0,0,0,0.6)",  # dark: visible on every cluster's colour
                                "line": {"color": "white", "width": 0.5}})
    elif posterior:
        (cx, cy), (rx, ry) = posterior["centre"], posterior["radii"]
        t = np.linspace(0, 2 * np.pi, 60)
        fig.add_scatter(x=cx + rx * np.cos(t), y=cy + ry * np.sin(t), mode="lines", name="q(z|x), 2σ",
                        line={"color": "red", "width": 2}, fill="toself", fillcolor="rgba(220,0,0,0.12)")
    fig.add_scatter(x=[where[0]], y=[where[1]], mode="markers", name="your digit", hoverinfo="name",
                    marker={"symbol": "star", "size": 22, "color": "red", "line": {"color": "white", "width": 2}})
    for digit, colour in enumerate(LABEL_COLOURS):  # legend entries only: the points are in the picture
        fig.add_scatter(x=[None], y=[None], mode="markers", marker={"color": colour, "size": 8}, name=str(digit))
    fig.add_layout_image(source=uri, xref="x", yref="y", x=xr[0], y=yr[1], sizex=xr[1] - xr[0],
                         sizey=yr[1] - yr[0], sizing="stretch", layer="below")
    fig.update_xaxes(range=xr, showgrid=False, zeroline=False)
    fig.update_yaxes(range=yr, showgrid=False, zeroline=False)
    fig.update_layout(height=height, **_frame(title))
    return fig


def loss_figure(snap: dict):
    """Every loss term of a training job snapshot: train (per report) and validation (per epoch)."""
    fig = go.Figure()
    steps = snap["steps"]
    for term in (steps[-1] if steps else {}):
        if term != "step":
            fig.add_scatter(x=[s["step"] for s in steps], y=[s[term] for s in steps], name=f"train {term}",
                            mode="lines")
    ep = snap["epochs"]
    for term in (ep[-1]["val"] if ep else {}):
        fig.add_scatter(x=[e["step"] for e in ep], y=[e["val"][term] for e in ep], name=f"val {term}",
                        mode="lines+markers", line={"dash": "dot"})
    if snap.get("warmup") and steps:  # the objective still ramps up there: a rising training loss is expected
        fig.add_vrect(x0=0, x1=snap.get("warmup_end") or steps[-1]["step"], fillcolor="grey", opacity=0.12,
                      line_width=0, annotation_text=snap["warmup"][1], annotation_position="top left")
    fig.update_layout(height=320, xaxis_title="step", yaxis_title="loss", yaxis_type="log", **_frame("Loss terms"))
    return fig


def kl_bars(kl, height: int = 220):
    """The mean KL (nats) of each code dimension as bars: which dimensions the model uses."""
    fig = go.Figure(go.Bar(x=np.arange(len(kl)), y=kl, name="mean KL"))
    fig.update_layout(height=height, xaxis_title="code dimension", yaxis_title="mean KL (nats)", **_frame(""))
    return fig


def code_grid(indices, size: int, title: str = ""):
    """Which codebook entry (of ``size``) sits at each position of a VQ model's code grid, as a labelled heatmap."""
    grid = np.asarray(indices)
    fig = go.Figure(go.Heatmap(z=grid, text=grid, texttemplate="%{text}", colorscale="Viridis", zmin=0,
                               zmax=size - 1, showscale=False, hovertemplate="row %{y}, column %{x}: entry %{z}"
                               "<extra></extra>"))
    fig.update_yaxes(autorange="reversed", showticklabels=False)
    fig.update_xaxes(showticklabels=False)
    fig.update_layout(height=300, width=300, **_frame(title))
    return fig


def score_histograms(normal, others: dict, threshold: float, unit: str = "", height: int = 340):
    """Overlaid histograms (each normalised to its own count) of a score: the test split and each OOD set,
    with the threshold as a vertical line. The x axis stops at the 99.5th percentile of all values, so a
    far-away set (noise) does not squeeze the rest into one bar."""
    everything = np.concatenate([np.asarray(normal)] + [np.asarray(v) for v in others.values()])
    lo, hi = np.percentile(everything, [0.5, 99.5])
    fig = go.Figure()
    for name, values in {"test split": normal, **others}.items():
        fig.add_histogram(x=np.clip(values, lo, hi), name=name, opacity=0.6, histnorm="percent",
                          xbins={"start": lo, "end": hi, "size": (hi - lo) / 80 or 1})
    fig.add_vline(x=threshold, line={"color": "black", "dash": "dash"}, annotation_text="threshold")
    fig.update_layout(barmode="overlay", height=height, margin=LEGEND_ON_TOP, xaxis_title=unit,
                      yaxis_title="% of the set", legend=TOP_LEGEND)
    return fig


def roc_figure(curves: dict, height: int = 340):
    """ROC curves, one per OOD set: ``curves`` maps a name to (false positive rate, true positive rate, AUROC)."""
    fig = go.Figure()
    for name, (fpr, tpr, auc) in curves.items():
        keep = np.unique(np.linspace(0, len(fpr) - 1, 400).astype(int))  # a monotone curve: 400 points draw it
        fig.add_scatter(x=fpr[keep], y=tpr[keep], mode="lines", name=f"{name} (AUROC {auc:.3f})")
    fig.add_scatter(x=[0, 1], y=[0, 1], mode="lines", line={"dash": "dot", "color": "grey"}, name="chance")
    fig.update_layout(height=height, margin=LEGEND_ON_TOP, xaxis_title="test digits flagged (false positives)",
                      yaxis_title="OOD images flagged (true positives)", legend=TOP_LEGEND)
    return fig


def evolution_figure(frame, labels, rows, epoch: int, limits=None, height: int = 420):
    """One frame of a training evolution (``aecore.evolution``): the probe digits, a trace per digit (the legend
    hides or shows one), on fixed axes ``limits`` ((x range), (y range)) so a replay does not rescale."""
    xy, labels, rows = np.asarray(frame, np.float32), np.asarray(labels), np.asarray(rows)
    fig = go.Figure()
    for digit, colour in enumerate(LABEL_COLOURS):
        at = labels == digit
        fig.add_scattergl(x=xy[at, 0], y=xy[at, 1], mode="markers", name=str(digit), customdata=rows[at],
                          marker={"color": colour, "size": 4}, hovertemplate=f"test #%{{customdata}}, label {digit}"
                                                                            "<extra></extra>")
    title = "Before training" if epoch == 0 else f"After epoch {epoch}"
    fig.update_xaxes(range=limits[0] if limits else None, showticklabels=False, zeroline=False)
    fig.update_yaxes(range=limits[1] if limits else None, showticklabels=False, zeroline=False)
    # uirevision: a redraw each epoch keeps the viewer's zoom and the digits hidden in the legend
    fig.update_layout(height=height, uirevision="evolution", legend={"title": "digit"},
                      **_frame(f"{title}: {len(xy):,} test digits (PCA, aligned across epochs)"))
    return fig
