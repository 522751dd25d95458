"""``latent-lab``: serve the Latent Lab app (``python -m latent_lab.ui.serve`` does the same).

The Streamlit settings live here, so the installed command and a checkout serve the app the same way. Served
to a LAN (``--host 0.0.0.0``), the app answers only to this machine's own names and addresses (and those
given with ``--allow-host``), which stops DNS rebinding; uploads and client messages are capped at what the
app accepts.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

APP = Path(__file__).resolve().parent.parent / "app.py"
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
    # What a browser may send: the largest upload the app accepts (a checkpoint), and widget values (a drawing,
    # a map selection) far below Streamlit's default of 25 MB per message.
    "server.maxWidgetStateSize": "8",
}


def _port(text: str) -> int:
    port = int(text)
    if not 1 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"{port} is not a port number (1-65535)")
    return port


def allowed_hosts(host: str, extra: list[str] | tuple[str, ...] = ()) -> list[str]:
    """The Host headers the server answers to: localhost, the address it listens on and, on every interface
    (``0.0.0.0``/``::``), this machine's names and addresses; plus ``extra`` (a name a proxy or DNS gives it)."""
    import socket

    names = {"localhost", "127.0.0.1", "::1", host, *extra}
    if host in ("0.0.0.0", "::"):
        names.discard(host)
        for name in (socket.gethostname(), socket.getfqdn()):
            names.add(name)
            try:
                names.update(info[4][0] for info in socket.getaddrinfo(name, None))
            except OSError:
                pass
    return sorted(n for n in names if n)


def upload_limit_mb() -> int:
    from aecore.checkpoint import MAX_BYTES

    return max(1, -(-MAX_BYTES // (1024 * 1024)))


def streamlit_args(host: str = "localhost", port: int = 8501, allow_hosts: tuple[str, ...] = ()) -> list[str]:
    """The ``streamlit run`` command line for the app."""
    options = {**OPTIONS, "server.address": host, "server.port": str(port),
               "server.allowedHosts": allowed_hosts(host, allow_hosts),
               "server.maxUploadSize": str(upload_limit_mb())}
    return ["run", str(APP), *[arg for key, value in options.items()
                               for one in (value if isinstance(value, list) else [value]) for arg in (f"--{key}", one)]]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="latent-lab", description="Serve Latent Lab, the autoencoder explorer, in the browser.",
        epilog="--host 0.0.0.0 serves every machine that can reach this one (no login: see the README).")
    parser.add_argument("--host", default="localhost", help="address to listen on (default: localhost only)")
    parser.add_argument("--port", type=_port, default=8501, help="port (default: 8501)")
    parser.add_argument("--allow-host", action="append", default=[], metavar="NAME",
                        help="another name visitors use to reach this server (repeatable); others are refused")
    args = parser.parse_args(argv)
    # In the server a training thread shares the cores with every session's page runs (and, on a laptop,
    # the browsers): torch's OpenMP workers that spin while they wait would hold a core a partner needs, so
    # they sleep instead. (Alone, as in `aecore train`, spinning is faster: 8.5 s against 22 s for dense.)
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    from streamlit.web import cli as streamlit_cli

    shown = "localhost" if args.host in ("0.0.0.0", "::") else args.host
    print(f"Latent Lab: http://{shown}:{args.port}" + (" (and this machine's LAN address)" if shown != args.host
                                                        else ""), file=sys.stderr)
    sys.argv = ["streamlit", *streamlit_args(args.host, args.port, tuple(args.allow_host))]
    _use_our_menu_only()
    return streamlit_cli.main()


def _use_our_menu_only() -> None:
    """Streamlit treats an app with a ``pages/`` folder as an old-style multipage app until ``st.navigation``
    first runs: the first visitor who opens a sub-page's link would get the automatic page list for good.
    Our menu is app.py's ``st.navigation`` alone."""
    from streamlit.runtime.pages_manager import PagesManager

    PagesManager.uses_pages_directory = False


if __name__ == "__main__":
    sys.exit(main())
