"""``latent-lab``: serve the Latent Lab app (installed as ``latent_lab.serve``; ``python serve.py`` in a checkout).

The Streamlit settings live here, so the installed command and a checkout serve the app the same way.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

APP = Path(__file__).resolve().parent / "app.py"
# Headless, no usage statistics, no file watching (an installed app never changes).
OPTIONS = {
    "server.headless": "true",
    "server.fileWatcherType": "none",
    "server.runOnSave": "false",
    "browser.gatherUsageStats": "false",
    "client.toolbarMode": "minimal",
    # Unexpected errors show their type only: tracebacks (with server paths) go to the server log instead.
    "client.showErrorDetails": "type",
    # Streamlit runs a full garbage collection after every script run: with torch's objects in memory that
    # is about 0.1 s of every stroke on the Draw page. Python's own generational collection still runs.
    "runner.postScriptGC": "false",
}


def _port(text: str) -> int:
    port = int(text)
    if not 1 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"{port} is not a port number (1-65535)")
    return port


def streamlit_args(host: str = "localhost", port: int = 8501) -> list[str]:
    """The ``streamlit run`` command line for the app."""
    options = {**OPTIONS, "server.address": host, "server.port": str(port)}
    return ["run", str(APP), *[arg for key, value in options.items() for arg in (f"--{key}", value)]]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="latent-lab", description="Serve Latent Lab, the autoencoder explorer, in the browser.",
        epilog="--host 0.0.0.0 serves every machine that can reach this one (no login: see the README).")
    parser.add_argument("--host", default="localhost", help="address to listen on (default: localhost only)")
    parser.add_argument("--port", type=_port, default=8501, help="port (default: 8501)")
    args = parser.parse_args(argv)
    # In the server a training thread shares the cores with every session's page runs (and, on a laptop,
    # the browsers): torch's OpenMP workers that spin while they wait would hold a core a partner needs, so
    # they sleep instead. (Alone, as in `aecore train`, spinning is faster: 8.5 s against 22 s for dense.)
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    from streamlit.web import cli as streamlit_cli

    shown = "localhost" if args.host in ("0.0.0.0", "::") else args.host
    print(f"Latent Lab: http://{shown}:{args.port}" + (" (and this machine's LAN address)" if shown != args.host
                                                        else ""), file=sys.stderr)
    sys.argv = ["streamlit", *streamlit_args(args.host, args.port)]
    return streamlit_cli.main()


if __name__ == "__main__":
    sys.exit(main())
