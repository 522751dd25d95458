"""The package as a user installs it: build the wheel, install it into a fresh virtual environment, and
use it from a folder outside the checkout, offline, on what the wheel carries.

The fresh environment reuses the torch and the other dependencies already installed here (a .pth file
pointing at this interpreter's site-packages) instead of installing several GB again; the wheel itself is
installed with ``--no-deps --no-index``, so nothing is downloaded.
"""

from __future__ import annotations

import json
import os
import shutil
import site
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from browser_support import free_port

REPO = Path(__file__).resolve().parent.parent
# build/ and dist/ only at the top: ui/frontend/dist is the canvas's committed browser code.
TOP_SKIP = {".git", ".venv", "build", "dist", "test-artifacts", ".cache", ".pytest_cache", ".ruff_cache"}


def _skipped(folder: str, names: list[str]) -> list[str]:
    top = Path(folder) == REPO
    return [n for n in names if (top and n in TOP_SKIP) or n == "__pycache__" or n.endswith(".egg-info")
            or n == "node_modules"]


def listing(folder: Path) -> set[str]:
    return {str(p.relative_to(folder)) for p in folder.rglob("*")}


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """(venv, environment, working folder, site-packages) of the installed wheel."""
    tmp = tmp_path_factory.mktemp("install")
    source = tmp / "source"  # build from a copy, so the checkout gets no build/ or egg-info
    shutil.copytree(REPO, source, ignore=_skipped)
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--no-index", "-q",
                    "-w", str(tmp / "dist"), str(source)], check=True, capture_output=True, timeout=300)
    wheel = next((tmp / "dist").glob("latent_lab-*.whl"))
    venv = tmp / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=300)
    py = venv / "bin" / "python"
    venv_site = Path(subprocess.run([py, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                                    check=True, capture_output=True, text=True).stdout.strip())
    (venv_site / "_reuse_dependencies.pth").write_text("\n".join(site.getsitepackages()) + "\n")
    subprocess.run([py, "-m", "pip", "install", "--no-deps", "--no-index", "-q", str(wheel)], check=True,
                   capture_output=True, timeout=300)
    home, work = tmp / "home", tmp / "elsewhere"
    home.mkdir()
    work.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AECORE_", "XDG_", "PYTHON", "VIRTUAL_ENV"))}
    env.update(HOME=str(home), PATH=f"{venv / 'bin'}:{env.get('PATH', '')}")
    return {"venv": venv, "env": env, "cwd": work, "site": venv_site, "home": home}


def run(installed, *args, timeout=600):
    return subprocess.run(list(args), cwd=installed["cwd"], env=installed["env"], capture_output=True, text=True,
                          timeout=timeout)


def test_the_wheel_carries_the_app_and_every_asset(installed):
    site_packages = installed["site"]
    for path in ("aecore/assets/data/mnist_sample.npz", "aecore/assets/data/LICENSE", "aecore/assets/models/README.md",
                 "aecore/assets/models/dense.safetensors", "aecore/assets/classifier.safetensors",
                 "latent_lab/app.py", "latent_lab/ui/chrome.py", "latent_lab/ui/figures.py", "latent_lab/ui/widgets.py",
                 "latent_lab/ui/serve.py", "latent_lab/pages/0_Home.py", "latent_lab/pages/2_Draw.py",
                 "latent_lab/ui/frontend/dist/draw.js", "latent_lab/ui/frontend/dist/map.js",
                 "latent_lab/ui/frontend/dist/latent.js", "latent_lab/ui/frontend/dist/ort/LICENSE",
                 "latent_lab/ui/frontend/dist/ort/ort-wasm-simd-threaded.wasm.gz"):  # the canvas, and its runtime
        assert (site_packages / path).is_file(), path
    assert list((site_packages / "aecore/assets/projections").glob("*.npz"))
    shipped = {p.name for p in (site_packages / "aecore/assets/onnx").glob("*.onnx.gz")}  # the browser's exports
    assert shipped == {p.name for p in (REPO / "assets/onnx").glob("*.onnx.gz")} and shipped
    proc = run(installed, "python", "-c", "import aecore, sys; print(aecore.__file__)")
    assert proc.stdout.startswith(str(site_packages)), "the checkout, not the wheel, was imported"


def test_aecore_commands_work_from_any_folder_offline(installed):
    before = listing(installed["site"] / "aecore") | listing(installed["site"] / "latent_lab")
    proc = run(installed, "aecore", "eval", "dense", "--json")
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout.splitlines()[-1])["test_mse"] < 0.0038  # the shipped model, on the sample

    proc = run(installed, "aecore", "train", "dense", "--epochs", "1", "--fast-eval", "--json")
    assert proc.returncode == 0, proc.stderr
    assert "bundled sample" in proc.stderr
    out = installed["cwd"] / "dense.safetensors"
    assert json.loads(proc.stdout.splitlines()[-1])["test_mse"] < 0.02 and out.is_file()

    proc = run(installed, "aecore", "data")
    assert proc.returncode == 0 and "found   mnist          bundled sample" in proc.stdout, proc.stdout
    assert str(installed["home"] / ".cache" / "aecore" / "data") in proc.stdout  # the documented data root

    snippet = REPO.joinpath("README.md").read_text().split("```python\n", 1)[1].split("```", 1)[0]
    snippet = snippet.replace("TrainConfig(epochs=5)", "TrainConfig(epochs=1, train_size=1000)")
    proc = run(installed, "python", "-c", snippet)
    assert proc.returncode == 0, proc.stderr
    assert "bundled sample" in proc.stdout

    proc = run(installed, "aecore", "pretrain", "--variants", "dense")
    assert proc.returncode == 1 and "full MNIST" in proc.stderr  # refuses the sample, writes nothing
    after = listing(installed["site"] / "aecore") | listing(installed["site"] / "latent_lab")
    assert after == before, f"written into the installed package: {sorted(after - before)}"


@pytest.fixture(scope="module")
def served(installed):
    """The installed ``latent-lab`` command serving on a free port; its URL."""
    port = free_port()
    log_path = installed["cwd"] / "server.log"
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(["latent-lab", "--port", str(port)], cwd=installed["cwd"], env=installed["env"],
                                stdout=log, stderr=subprocess.STDOUT)
    url = f"http://localhost:{port}"
    try:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as r:
                    if r.read() == b"ok":
                        break
            except OSError:
                time.sleep(0.2)
        else:
            pytest.fail(f"latent-lab did not become healthy: {log_path.read_text()[-2000:]}")
        yield url
    finally:
        proc.terminate()
        proc.wait(20)


def test_latent_lab_serves_the_app(served):
    with urllib.request.urlopen(f"{served}/_stcore/health", timeout=10) as r:
        assert r.status == 200 and r.read() == b"ok"
    with urllib.request.urlopen(f"{served}/", timeout=10) as r:
        assert r.status == 200 and b'id="root"' in r.read()


@pytest.mark.browser
def test_the_installed_app_draws_its_home_page_with_every_shipped_model(served, installed):
    import browser_support as B

    if B.missing_browser():
        pytest.skip(B.missing_browser())
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = B.launch(p)
        try:
            page = browser.new_page(viewport=B.VIEWPORT)
            B.open_page(page, served, "", "Latent Lab")
            assert not B.problems(page)
            body = page.inner_text("[data-testid=stMain]")
            shipped = len(list((REPO / "assets" / "models").glob("*.safetensors")))
            assert "bundled sample" in body and f"{shipped} pretrained" in body
            assert page.locator("[data-testid=stDataFrame]").count() == 1
        finally:
            browser.close()


def test_latent_lab_refuses_a_bad_port(installed):
    proc = run(installed, "latent-lab", "--port", "70000")
    assert proc.returncode == 2 and "not a port number" in proc.stderr


def test_latent_lab_listens_on_localhost_unless_told():
    from latent_lab.ui import serve

    args = serve.streamlit_args()
    assert args[args.index("--server.address") + 1] == "localhost"
    args = serve.streamlit_args(host="0.0.0.0", port=9000)
    assert args[args.index("--server.address") + 1] == "0.0.0.0" and args[args.index("--server.port") + 1] == "9000"
