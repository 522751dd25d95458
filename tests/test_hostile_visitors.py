"""A careless or hostile visitor, replayed against a running server (issue "safe to serve a room").

One server with a small models quota; each case does what such a visitor did, then checks what every user
cares about: a one-line message (never a traceback), a second session's page still answers, the server's
memory stays under its bound, nothing in the models folder is lost, and no external program was started.
The input bounds themselves are tested case by case in test_hostile_inputs.py, test_hostile_checkpoints.py,
test_models_folder.py and test_budgets.py; this file proves the whole server holds.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from browser_support import (
    ARTIFACTS,
    AppServer,
    app_env,
    missing_browser,
    open_page,
    problems,
    settle,
    train_cli,
    wait_text,
)
from hostile_checkpoints_support import deep_meta, model_bytes, with_meta, with_number

pytestmark = [pytest.mark.browser, pytest.mark.skipif(missing_browser() is not None, reason=str(missing_browser()))]

MEMORY_BOUND = 2.5e9  # bytes of server RSS, the target for a 2-core, 24 GB machine
QUOTA_FILES = 4  # the server's models folder takes four files: one is there from the start


def server_memory(pid: int) -> tuple[int, int]:
    """(resident, peak resident) bytes of a process, from /proc."""
    fields = dict(line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines() if ":" in line)
    return int(fields["VmRSS"].split()[0]) * 1024, int(fields["VmHWM"].split()[0]) * 1024


def children(pid: int) -> list[str]:
    """Commands of the processes a process started (a decoder such as Ghostscript would show here)."""
    out = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except OSError:
            continue
        if int(text.rsplit(")", 1)[1].split()[1]) == pid:
            out.append(text.split("(", 1)[1].rsplit(")", 1)[0])
    return out


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    root = tmp_path_factory.mktemp("hostile")
    env = app_env(root / "models", root / "cache", AECORE_MODELS_QUOTA_FILES=QUOTA_FILES,
                  AECORE_DATA_DIR=root / "no-data")
    (root / "no-data").mkdir()
    train_cli("dense", root / "models" / "mine.safetensors", env)
    with AppServer(env, root / "server.log", keep_as="hostile-server.log").start(timeout=90) as app:
        app.models = root / "models"
        yield app


@pytest.fixture
def visitor(browser):
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.set_default_timeout(60_000)
    yield page
    context.close()


@pytest.fixture
def holds(server, browser, request):
    """After the case: bounded memory, no child process, the models folder intact, and a second visitor's
    pages (Home, Draw) still render without an error. What it measured goes to test-artifacts/hostile.jsonl
    (bench/bench_hostile.py gathers it)."""
    import json
    import time

    before = {p.name: p.read_bytes() for p in server.models.glob("*.safetensors")}
    yield
    rss, peak = server_memory(server.proc.pid)
    assert peak < MEMORY_BOUND, f"server peak RSS {peak / 1e9:.2f} GB"
    assert not children(server.proc.pid), children(server.proc.pid)
    for name, data in before.items():
        assert (server.models / name).read_bytes() == data, f"{name} changed or vanished"
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    other = context.new_page()
    seconds = {}
    try:
        for path, title in (("", "Latent Lab"), ("Draw", "Draw")):
            t0 = time.perf_counter()
            open_page(other, server.url, path, title, timeout=60)
            seconds[title] = round(time.perf_counter() - t0, 2)
            assert not problems(other), f"a bystander's {title or 'Home'}: {problems(other)}"
    finally:
        context.close()
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with open(ARTIFACTS / "hostile.jsonl", "a") as f:
        f.write(json.dumps({"case": request.node.name, "server_rss_gb": round(rss / 1e9, 3),
                            "server_peak_rss_gb": round(peak / 1e9, 3), "bystander_seconds": seconds}) + "\n")


def no_traceback_on(page) -> None:
    assert not page.locator("[data-testid=stException]").count(), "a traceback reached the page"


def test_a_link_selecting_thousands_of_digits_is_cut_with_a_note(server, visitor, holds):
    rows = ",".join(str(i % 3000 - 100) for i in range(3500))  # repeats, negatives, rows past the end: ~15 kB
    open_page(visitor, server.url, f"Latent_space?model=dense%20(pretrained)&map=pca&sel={rows}", "Latent space")
    no_traceback_on(visitor)
    note = visitor.locator("[data-testid=stMain]").inner_text()
    assert "cut to 300 digits" in note and "name no test digit ignored" in note
    assert re.search(r"\b300 digits selected", note), note
    assert not problems(visitor)


def test_a_link_of_sixty_thousand_entries_is_refused_at_the_door(server, holds):
    import urllib.error
    import urllib.request

    rows = ",".join(str(i) for i in range(60_000))
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(f"{server.url}/Latent_space?sel={rows}", timeout=10)
    assert 400 <= refused.value.code < 500


def test_side_by_side_takes_a_hostile_selection_too(server, visitor, holds):
    rows = ",".join(["-1", "x", "99999999999999999999", *map(str, range(2000))])
    open_page(visitor, server.url, f"Side_by_side?left=dense%20(pretrained)&right=vae%20(pretrained)&sel={rows}",
              "Side by side")
    no_traceback_on(visitor)
    assert "300 digits selected" in visitor.locator("[data-testid=stMain]").inner_text()


def upload(page, label: str, name: str, data: bytes) -> None:
    box = page.locator("[data-testid=stFileUploader]").filter(has_text=label).first
    box.locator("input[type=file]").set_input_files({"name": name, "mimeType": "application/octet-stream",
                                                      "buffer": data})
    settle(page)


EPS = b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 28 28\nnewpath 0 0 moveto 28 28 lineto stroke\nshowpage\n"


def test_a_postscript_picture_is_refused_without_running_any_program(server, visitor, holds):
    open_page(visitor, server.url, "Draw", "Draw")
    visitor.get_by_role("tab", name="Upload").click()
    upload(visitor, "A picture of one digit", "digit.png", EPS)  # the name lies; the bytes are PostScript
    wait_text(visitor, re.compile("Can't use this input: .*only those are accepted"))
    no_traceback_on(visitor)
    assert not children(server.proc.pid)


@pytest.mark.parametrize("case", ["markdown-link", "huge-integer", "nested", "dict-for-string"])
def test_a_hostile_checkpoint_upload_is_refused_in_one_line(server, visitor, holds, case):
    data = {"markdown-link": with_meta(model_bytes(seed=7), train_config={"dataset": "[Log in again](http://x.test)"}),
            "huge-integer": with_number(400),
            "nested": deep_meta(50_000),
            "dict-for-string": with_meta(model_bytes(seed=8), dataset={"a": 1})}[case]
    open_page(visitor, server.url, "Train", "Train")
    upload(visitor, "aecore .safetensors checkpoint", f"{case}.safetensors", data)
    wait_text(visitor, re.compile("^Not loaded: "))
    no_traceback_on(visitor)
    assert not visitor.locator("a[href*='x.test']").count()


def test_a_file_dropped_into_the_models_folder_breaks_no_page(server, visitor, holds):
    bad = server.models / "dropped.safetensors"
    bad.write_bytes(deep_meta(50_000))
    try:
        for path, title in (("", "Latent Lab"), ("Compare", "Compare"), ("Side_by_side", "Side by side")):
            open_page(visitor, server.url, path, title)
            no_traceback_on(visitor)
            assert not problems(visitor), (title, problems(visitor))
        open_page(visitor, server.url, "", "Latent Lab")
        assert "Not usable, hidden from every page: dropped" in visitor.locator("[data-testid=stMain]").inner_text()
    finally:
        bad.unlink()


def test_uploads_past_the_quota_are_refused_and_nothing_is_replaced(server, visitor, holds):
    open_page(visitor, server.url, "Train", "Train")
    kept = []
    for seed in range(QUOTA_FILES + 2):  # distinct models, until the folder's quota says no
        upload(visitor, "aecore .safetensors checkpoint", "same-name.safetensors", model_bytes(seed=100 + seed))
        text = visitor.locator("[data-testid=stMain]").inner_text()
        if "Not loaded" in text:
            assert re.search(r"quota|full", text, re.I), text
            break
        kept.append(re.search(r"Added (\S+)", text).group(1))
    else:
        pytest.fail(f"the quota of {QUOTA_FILES} files was never reached")
    assert len(set(kept)) == len(kept) >= 1  # the same file name never replaced an earlier upload
    names = {p.stem for p in server.models.glob("*.safetensors")}
    assert set(kept) <= names
    for name in kept:  # clean up through the app: delete is offered for one's own models
        (server.models / f"{name}.safetensors").unlink()


def test_expected_refusals_log_one_line_not_a_traceback(server):
    log = server.tail(2_000_000)
    tracebacks = [m.start() for m in re.finditer("Traceback", log)]
    assert not tracebacks, log[max(0, tracebacks[0] - 500): tracebacks[0] + 2000] if tracebacks else ""


@pytest.mark.parametrize("settings", [{"codebook size": 4096, "channels": 256, "batch size": 8192},
                                      {"epochs": 500, "batch size": 1, "train size": 0}],
                         ids=["memory", "days"])
def test_training_settings_beyond_the_budget_are_refused_before_anything_runs(server, visitor, holds, settings):
    from browser_support import choose, set_number

    open_page(visitor, server.url, "Train", "Train")
    choose(visitor, "Variant", "vq_vae")
    for label, value in settings.items():
        set_number(visitor, label, value)
    visitor.get_by_role("button", name="Start training").click()
    refusal = wait_text(visitor, re.compile(r"^Not started: this run would"))
    assert "AECORE_TRAIN_MAX_" in refusal.inner_text()
    no_traceback_on(visitor)
    assert not visitor.get_by_role("button", name="Stop").count()  # nothing trains
