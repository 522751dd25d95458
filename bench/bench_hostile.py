"""The hostile-visitor cases against a running server, with what the tests do not judge by time: how long a
second visitor's pages took after each case, and the server's memory. Runs tests/test_hostile_visitors.py and
writes one JSON line (and docs/bench_hostile.json).

    python bench/bench_hostile.py
"""

from __future__ import annotations

import json
import platform
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
LOG = REPO / "test-artifacts" / "browser" / "hostile.jsonl"
TARGETS = {"bystander_seconds": 5.0, "server_peak_rss_gb": 2.5}


def main() -> dict:
    LOG.unlink(missing_ok=True)
    proc = subprocess.run([sys.executable, "-m", "pytest", "-q", "tests/test_hostile_visitors.py"], cwd=REPO,
                          capture_output=True, text=True)
    rows = [json.loads(line) for line in LOG.read_text().splitlines()] if LOG.exists() else []
    slowest = max((s for r in rows for s in r["bystander_seconds"].values()), default=None)
    peak = max((r["server_peak_rss_gb"] for r in rows), default=None)
    summary = proc.stdout.strip().splitlines()[-1] if proc.stdout.strip() else proc.stderr[-300:]
    result = {"cases": rows, "tests": summary,
              "slowest_bystander_page_s": slowest, "server_peak_rss_gb": peak, "targets": TARGETS,
              "met": bool(rows) and slowest <= TARGETS["bystander_seconds"] and peak < TARGETS["server_peak_rss_gb"],
              "machine": f"{platform.machine()}, {platform.python_version()}"}
    print(json.dumps(result))
    (REPO / "docs" / "bench_hostile.json").write_text(json.dumps(result, indent=1) + "\n")
    return result


if __name__ == "__main__":
    main()
