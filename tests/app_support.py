"""Fixtures and helpers for the Latent Lab app tests (imported by conftest.py).

``tiny_models_dir`` trains small dense, vae, cvae and denoising models once per session on a
1,000-image slice of the bundled sample; ``app_env`` gives each test its own copy of them as the
user's model folder, an empty data root (so the bundled sample is used) and an empty cache.
"""

from __future__ import annotations

import io
import json
import shutil
from pathlib import Path

import pytest

from latent_lab.ui import chrome

REPO = Path(__file__).resolve().parent.parent
NO_DATA = "/nonexistent-aecore-root"
TINY = {
    "dense": {"latent_dim": 16},
    "vae": {"latent_dim": 8, "hidden1": 128, "hidden2": 64},
    "cvae": {"latent_dim": 8, "hidden1": 128, "hidden2": 64},
    "denoising": {"latent_dim": 8, "channels": 8},
}


PAGES = [p.path for p in chrome.PAGES]


def page(name: str) -> str:
    return str(REPO / name)


def run_page(path: str, timeout: float = 180, **state):
    """AppTest of one page, with session state set before its first run."""
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(page(path), default_timeout=timeout)
    for k, v in state.items():
        at.session_state[k] = v
    return at.run()


def train_tiny(folder: Path) -> Path:
    from aecore import VARIANTS, build, checkpoint
    from aecore.data import load
    from aecore.metrics import evaluate
    from aecore.training import config_for, train

    folder.mkdir(parents=True, exist_ok=True)
    train_data = load("mnist", "train", data_dir=NO_DATA, download=False)
    test = load("mnist", "test", data_dir=NO_DATA, download=False).subset(500)
    for variant, cfg in TINY.items():
        model = build(variant, cfg)
        tcfg = config_for(VARIANTS[variant], epochs=1, train_size=1000, device="cpu", seed=0)
        result = train(model, train_data, test, tcfg)
        checkpoint.save(result.model, folder / f"{variant}.safetensors", train_config=tcfg.__dict__,
                        dataset="mnist", data_source=train_data.source, history=result.history,
                        metrics=evaluate(result.model, test))
    return folder


@pytest.fixture(scope="session")
def tiny_models_dir(tmp_path_factory) -> Path:
    return train_tiny(tmp_path_factory.mktemp("tiny-models"))


@pytest.fixture
def app_env(tmp_path, monkeypatch, tiny_models_dir):
    """Per-test user model folder (a copy of the tiny models), cache and empty data root."""
    models = tmp_path / "models"
    shutil.copytree(tiny_models_dir, models)
    for name, value in (("AECORE_MODELS_DIR", models), ("AECORE_CACHE_DIR", tmp_path / "cache"),
                        ("AECORE_DATA_DIR", tmp_path / "no-data")):
        Path(value).mkdir(exist_ok=True)
        monkeypatch.setenv(name, str(value))
    monkeypatch.setenv("AECORE_OFFLINE", "1")
    from aecore import jobs

    monkeypatch.setattr(jobs, "BOARD", jobs.JobBoard())  # each test its own server's job board
    return {"models": models, "cache": tmp_path / "cache"}


def png_of_one(dark_on_light: bool = True) -> bytes:
    """A photo-like picture of a '1': a dark stroke on light paper."""
    from PIL import Image, ImageDraw

    bg, ink = (235, 25) if dark_on_light else (10, 240)
    im = Image.new("L", (300, 220), bg)
    ImageDraw.Draw(im).line([(150, 30), (160, 190)], fill=ink, width=14)
    buf = io.BytesIO()
    im.save(buf, "PNG")
    return buf.getvalue()


def select_points(at, rows: list[int], chart: int = 0):
    """Fake a Plotly selection of these trace rows in an AppTest (what the browser sends) and rerun."""
    from streamlit.proto.WidgetStates_pb2 import WidgetState

    states = at._tree.get_widget_states()
    ws = WidgetState()
    ws.id = at.get("plotly_chart")[chart].proto.id
    ws.string_value = json.dumps({"selection": {
        "points": [{"curve_number": 0, "point_index": r, "point_number": r, "customdata": [r, 0, 0]}
                   for r in rows],
        "point_indices": rows, "box": [], "lasso": []}})
    states.widgets.append(ws)
    return at._run(states)


def click_map(at, x: float, y: float, chart: int = 0):
    """Fake a click on empty space of a latent map (a point of its invisible decode grid) and rerun."""
    from streamlit.proto.WidgetStates_pb2 import WidgetState

    states = at._tree.get_widget_states()
    ws = WidgetState()
    ws.id = at.get("plotly_chart")[chart].proto.id
    ws.string_value = json.dumps({"selection": {
        "points": [{"curve_number": 10, "point_index": 0, "point_number": 0, "x": x, "y": y, "customdata": [-1]}],
        "point_indices": [0], "box": [], "lasso": []}})
    states.widgets.append(ws)
    return at._run(states)


def shown(markdown: str) -> str:
    """What a reader sees of Markdown whose text the app escaped (``chrome.plain``)."""
    import re

    return re.sub(r"\\(.)", r"\1", markdown)


def no_errors(at) -> None:
    assert not at.exception, [e.message for e in at.exception]
    assert not at.error, [e.value for e in at.error]
