"""The models in the browser (ui/frontend), measured in headless Chromium with real pointer events and the canvas's
own timing marks (window.__latentLab), against the targets of issue 25 ("Live in the browser"):

  (a) first visit to Draw with a cold browser cache: navigation -> the canvas live (the first stroke is
      answered in the browser: the runtime, the classifier and the smallest model are in; the others follow),
      what it downloaded until then and in all (the runtime and the models, bytes on the wire; the whole
      page, Streamlit's own bundle included, beside it);
      the server's CPU for that page load; then a second visit (reload) the same
  (b) one session drawing, the pen moved at 120 events a second: pointer move -> every default model's
      reconstruction painted (p50, p95), updates per second during a stroke (each update also moves the
      drawing's marker and the VAE's posterior on the map: map_ms); the server's CPU per stroke and pen-up ->
      server panels settled
  (c) a room: ``--sessions`` browsers drawing at once (each a thread with its own Chromium, sharing this
      machine's cores with the server): the server's mean CPU, pen-up -> settled, and whether every
      session's live updates kept coming

    python bench/bench_browser.py [--sessions 8] [--seconds 60] [--data-dir ../shared/data] [--json out.json]

Prints one JSON line (figures, targets, which are met, and the server-path figures the issue measured before).
The server gets fresh caches, so its first page exports the default models (not timed: a warm-up visit).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from tests.browser_support import (  # noqa: E402
    ONE,
    SEVEN,
    VIEWPORT,
    AppServer,
    app_env,
    canvas,
    launch,
    live_marks,
    live_status,
    missing_browser,
    open_page,
    problems,
    settle,
    wait_text,
)
from tests.conftest import full_data_dir  # noqa: E402

TARGETS = {"move_to_painted_p50_ms": 16, "move_to_painted_p95_ms": 33, "updates_per_s": 30,
           "server_cpu_per_stroke_s": 0.05, "room_server_cpu_share": 0.30, "room_pen_up_to_settled_s": 1.0,
           "cold_first_live_s": 3.0, "cold_download_mb": 6.0}
# The server path the issue measured on this machine (Draw page rerun on every stroke, nothing while drawing).
BEFORE = {"pen_up_to_settled_s": "0.42-0.57", "room_pen_up_to_settled_s": "1.2-1.6 (4-5 sessions)",
          "server_cpu_per_stroke_s": 0.36, "updates_per_s": 0}
STROKES = [SEVEN, ONE, [(60, 60), (200, 70), (140, 240)], [(90, 40), (90, 240)]]
TICK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """CPU time (user + system) of the server process and its children so far."""
    total = 0.0
    for p in [pid, *_children(pid)]:
        try:
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / TICK
        except (OSError, IndexError, ValueError):
            pass
    return total


def _children(pid: int) -> list[int]:
    try:
        kids = [int(c) for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []
    return kids + [g for k in kids for g in _children(k)]


def pct(values: list[float], q: float) -> float:
    return sorted(values)[min(len(values) - 1, int(q * len(values)))] if values else float("nan")


def draw(page, points, steps: int = 24, rate: float = 120) -> tuple[float, float]:
    """A stroke moved like a pen or a mouse reports it: ``rate`` moves a second (120, as many pens and mice do;
    a move is never held back to wait for the page), pen up at the end; (start, end) in the page's clock."""
    box = canvas(page).bounding_box()
    at = [(box["x"] + x * box["width"] / 280, box["y"] + y * box["height"] / 280) for x, y in points]
    t0 = page.evaluate("performance.now()")
    page.mouse.move(*at[0])
    page.mouse.down()
    start, n = time.perf_counter(), 0
    for a, b in zip(at, at[1:], strict=False):
        for k in range(1, steps + 1):
            page.mouse.move(a[0] + (b[0] - a[0]) * k / steps, a[1] + (b[1] - a[1]) * k / steps)
            n += 1
            ahead = start + n / rate - time.perf_counter()
            if ahead > 0:
                time.sleep(ahead)
    t1 = page.evaluate("performance.now()")
    page.mouse.up()
    return t0, t1


def clear(page) -> None:
    page.get_by_role("button", name="Clear", exact=True).click()
    wait_text(page, "Draw a digit on the black canvas")
    settle(page, quiet=0.3)


def stroke_figures(page, server, strokes: int) -> dict:
    """(b): strokes on a warm page; the canvas's marks and the server's CPU from pen-up to a settled page."""
    latencies, rates, moves, cpu, settled = [], [], [], [], []
    for i in range(strokes):
        if i % len(STROKES) == 0:
            clear(page)
        before = live_marks(page)
        seen = len(before["updates"])
        t0, t1 = draw(page, STROKES[i % len(STROKES)])
        moves.append((live_marks(page).get("moves", 0) - before.get("moves", 0)) / ((t1 - t0) / 1000))
        c0, w0 = cpu_seconds(server.proc.pid), time.perf_counter()
        settled.append(settle(page, quiet=0.3, every=0.02) - w0)
        cpu.append(cpu_seconds(server.proc.pid) - c0)
        ups = [u for u in live_marks(page)["updates"][seen:] if u["shown"] and t0 <= u["move"] <= t1]
        latencies += [u["painted"] - u["move"] for u in ups]
        rates.append(len(ups) / ((t1 - t0) / 1000))
    return {"move_to_painted_p50_ms": pct(latencies, 0.5), "move_to_painted_p95_ms": pct(latencies, 0.95),
            "updates_per_s": statistics.median(rates), "pointer_moves_per_s": statistics.median(moves),
            "server_cpu_per_stroke_s": statistics.median(cpu),
            "pen_up_to_settled_s": statistics.median(settled), "strokes": strokes, "updates": len(latencies)}


def breakdown(page) -> dict:
    """Median ms of each part of an update: make the 28x28 input, run the models, paint."""
    ups = [u for u in live_marks(page)["updates"] if u["shown"] and "inferred" in u]
    part = {"preprocess_ms": ("start", "prepared"), "models_ms": ("prepared", "inferred"),
            "paint_ms": ("inferred", "painted"), "waiting_ms": ("move", "start"), "map_ms": ("painted", "mapped")}
    return {k: statistics.median(u[b] - u[a] for u in ups if u.get(b)) for k, (a, b) in part.items()
            if any(u.get(b) for u in ups)} if ups else {}


def visit(browser, server, path: str = "Draw", context=None) -> dict:
    """(a): one page load until the canvas is live; bytes on the wire and the server's CPU for it."""
    context = context or browser.new_context(viewport=VIEWPORT)
    page = context.new_page()
    got = []
    page.on("requestfinished", lambda r: got.append((time.perf_counter(), r)))
    c0, t0 = cpu_seconds(server.proc.pid), time.perf_counter()
    open_page(page, server.url, path, "Draw", timeout=180)
    status = live_status(page, every_model=False)
    live_at = time.perf_counter()
    live_status(page)  # then the rest of the models (not timed)
    live = live_at - t0
    settle(page, quiet=0.5)
    cpu = cpu_seconds(server.proc.pid) - c0
    sizes = [(t, r.url, r.sizes()) for t, r in got]
    wire = [(t, u, s["responseBodySize"] + s["responseHeadersSize"]) for t, u, s in sizes]
    ours = [(t, n) for t, u, n in wire if "/_stcore/bidi-components/" in u]  # the runtime and the models
    return {"page": page, "status": status, "live_s": live, "download_mb": sum(n for _, n in ours) / 1e6,
            "download_until_live_mb": sum(n for t, n in ours if t <= live_at) / 1e6,
            "page_download_mb": sum(n for *_, n in wire) / 1e6, "server_cpu_s": cpu, "requests": len(sizes)}


def room(base_url: str, server, sessions: int, seconds: float) -> dict:
    """(c): every session loads Draw, then strokes until time is up."""
    from playwright.sync_api import sync_playwright

    out = {"settled": [], "stalled": 0, "strokes": 0, "errors": []}
    lock, start, stop = threading.Lock(), threading.Barrier(sessions + 1), threading.Event()

    def visitor(i: int) -> None:
        with sync_playwright() as p:
            b = launch(p)
            page = b.new_context(viewport=VIEWPORT).new_page()
            try:
                open_page(page, base_url, "Draw", "Draw", timeout=300)
                live_status(page, 120)
            finally:
                start.wait()
            k = i
            while not stop.is_set():
                if k % len(STROKES) == 0:
                    clear(page)
                seen = len(live_marks(page)["updates"])
                t0, t1 = draw(page, STROKES[k % len(STROKES)])
                w0 = time.perf_counter()
                took = settle(page, quiet=0.3, every=0.05) - w0
                shown = [u for u in live_marks(page)["updates"][seen:] if u["shown"] and u["move"] <= t1]
                with lock:
                    out["settled"].append(took)
                    out["strokes"] += 1
                    out["stalled"] += not shown
                    if problems(page):
                        out["errors"].append(problems(page)[0][:200])
                k += 1
            b.close()

    threads = [threading.Thread(target=visitor, args=(i,), daemon=True) for i in range(sessions)]
    for t in threads:
        t.start()
    start.wait()
    c0, w0 = cpu_seconds(server.proc.pid), time.perf_counter()
    time.sleep(seconds)
    share = (cpu_seconds(server.proc.pid) - c0) / (time.perf_counter() - w0)
    stop.set()
    for t in threads:
        t.join(120)
    return {"sessions": sessions, "room_server_cpu_share": share,
            "room_pen_up_to_settled_s": statistics.median(out["settled"]) if out["settled"] else float("nan"),
            "room_strokes": out["strokes"], "room_strokes_without_live_updates": out["stalled"],
            "room_errors": out["errors"][:3]}


def run(sessions: int, seconds: float, strokes: int, data_dir: str | None) -> dict:
    from playwright.sync_api import sync_playwright

    root = Path(tempfile.mkdtemp(prefix="bench-browser-"))
    env = app_env(root / "models", root / "cache", AECORE_DATA_DIR=data_dir or full_data_dir() or root)
    results = {}
    with AppServer(env, root / "server.log") as server, sync_playwright() as p:
        browser = launch(p)
        warm = visit(browser, server)  # the server exports the default models once (not timed)
        warm["page"].context.close()
        first = visit(browser, server)
        context = first["page"].context
        second = visit(browser, server, context=context)  # the same browser profile: its caches are warm
        results.update(cold_first_live_s=first["live_s"], cold_download_mb=first["download_until_live_mb"],
                       cold_download_all_models_mb=first["download_mb"],
                       cold_page_download_mb=first["page_download_mb"], cold_server_cpu_s=first["server_cpu_s"],
                       cold_status=first["status"], second_visit_live_s=second["live_s"],
                       second_visit_download_mb=second["download_mb"],
                       second_visit_page_download_mb=second["page_download_mb"],
                       second_visit_server_cpu_s=second["server_cpu_s"])
        page = second["page"]
        results.update(stroke_figures(page, server, strokes))
        results["update_parts"] = breakdown(page)
        context.close()
        browser.close()
        if sessions:
            results.update(room(server.url, server, sessions, seconds))
    ok = {k: (results[k] >= v if k == "updates_per_s" else results[k] <= v) for k, v in TARGETS.items() if k in results}
    if sessions:
        ok["room_no_session_stalled"] = results["room_strokes_without_live_updates"] == 0
    return {**{k: round(v, 4) if isinstance(v, float) else v for k, v in results.items()},
            "targets": TARGETS, "ok": ok, "before": BEFORE, "cpus": os.cpu_count()}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sessions", type=int, default=8, help="browsers drawing at once in (c); 0 skips it")
    ap.add_argument("--seconds", type=float, default=60)
    ap.add_argument("--strokes", type=int, default=12, help="strokes of the single session in (b)")
    ap.add_argument("--data-dir")
    ap.add_argument("--json", help="also write the line to this file")
    args = ap.parse_args(argv)
    why = missing_browser()
    if why:
        print(f"bench_browser needs Playwright and Chromium: {why}", file=sys.stderr)
        return 2
    line = json.dumps(run(args.sessions, args.seconds, args.strokes, args.data_dir))
    print(line)
    if args.json:
        Path(args.json).write_text(line + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
