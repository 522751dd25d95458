"""Shared fixtures. Unit tests run on the bundled MNIST sample, offline; the pretrained-model
tests use the full data when $AECORE_DATA_DIR (or ../shared/data) has it."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
import torch

REPO = Path(__file__).resolve().parent.parent
SHARED_DATA = REPO.parent / "shared" / "data"

torch.set_num_threads(max(1, min(2, os.cpu_count() or 1)))


def full_data_dir() -> Path | None:
    """Where the full MNIST lies, if anywhere (CI sets AECORE_DATA_DIR to ../shared/data)."""
    for candidate in (os.environ.get("AECORE_DATA_DIR"), SHARED_DATA):
        if candidate and (Path(candidate) / "MNIST" / "raw" / "train-images-idx3-ubyte").exists():
            return Path(candidate)
    return None


@pytest.fixture
def offline_env(tmp_path, monkeypatch):
    """No data root and no network: loads must fall back to the bundled sample."""
    empty = tmp_path / "no-data"
    empty.mkdir()
    monkeypatch.setenv("AECORE_DATA_DIR", str(empty))
    monkeypatch.setenv("AECORE_OFFLINE", "1")
    return empty


@pytest.fixture(scope="session")
def bundled_test():
    from aecore.data import load

    return load("mnist", "test", data_dir="/nonexistent-aecore-root", download=False)


@pytest.fixture(scope="session")
def bundled_train():
    from aecore.data import load

    return load("mnist", "train", data_dir="/nonexistent-aecore-root", download=False)


@pytest.fixture(scope="session")
def tiny_batch(bundled_test):
    """64 real test digits with labels."""
    return bundled_test.images[:64], bundled_test.labels[:64]


# Latent Lab app tests: tiny trained models and a per-test environment (see tests/app_support.py).
import sys  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from app_support import app_env, tiny_models_dir  # noqa: E402,F401


@pytest.fixture(scope="module")
def browser(server):
    """One Chromium for a browser module's tests, started after that module's own ``server`` fixture."""
    from .browser_support import chromium

    with chromium() as b:
        yield b


@pytest.fixture
def page(browser, request):
    """A fresh page for each test; its last state is saved as a screenshot, for debugging failures."""
    from .browser_support import ARTIFACTS, fresh_page

    with fresh_page(browser) as page:
        yield page
        try:
            ARTIFACTS.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(ARTIFACTS / f"end-{re.sub(r'[^A-Za-z0-9_.-]+', '_', request.node.name)}.png"))
        except Exception:  # noqa: BLE001 - a screenshot is a debugging aid, never a failure
            pass
