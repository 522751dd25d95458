#!/usr/bin/env bash
# One command for each job on a fresh machine (Debian or any Linux with Python >= 3.10):
#   ./run.sh app    set up .venv with what the app needs, then serve it on http://localhost:8501
#   ./run.sh test   set up .venv with the test tools too (and Debian's Chromium), then run the whole suite
# Everything Python goes into the project's own virtual environment (.venv), so Debian's own Python
# (PEP 668, "externally-managed-environment") works, and two checkouts never share an install.
# PYTHON=/path/to/python picks the interpreter that makes the venv (default: python3).
set -euo pipefail
cd "$(dirname "$0")"
PY=${PYTHON:-python3}
VENV=.venv

step() { printf '==> %s\n' "$*" >&2; }

as_root() {
  if [ "$(id -u)" = 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else
    echo "run.sh: need root (or sudo) for: $*" >&2; exit 1; fi
}

apt_install() {
  step "installing Debian packages: $*"
  as_root apt-get update -qq
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq "$@"
}

make_venv() {
  if [ -x "$VENV/bin/python" ] && "$VENV/bin/python" -c 'import sys' 2>/dev/null; then return; fi
  step "creating the virtual environment $VENV with $("$PY" --version 2>&1) ($(command -v "$PY"))"
  rm -rf "$VENV"
  if ! "$PY" -m venv "$VENV" 2>/dev/null; then
    # Debian ships venv (and ensurepip) separately.
    command -v apt-get >/dev/null || { echo "run.sh: '$PY -m venv' failed; install Python's venv module" >&2; exit 1; }
    apt_install python3-venv
    rm -rf "$VENV"
    "$PY" -m venv "$VENV"
  fi
}

# pip runs only when pyproject.toml, constraints.txt or the wanted extras changed since the last install.
install_python() {
  local extras=$1 stamp="$VENV/.installed-$1" want
  want=$(cat pyproject.toml constraints.txt | sha256sum | cut -c1-16)
  if [ "$(cat "$stamp" 2>/dev/null)" = "$want" ] || { [ "$extras" = app ] && [ "$(cat "$VENV/.installed-test" 2>/dev/null)" = "$want" ]; }; then
    step "Python packages are up to date in $VENV"
    return
  fi
  local spec="."
  [ "$extras" = test ] && spec=".[test]"
  step "installing Python packages into $VENV (torch and its libraries are the bulk: several GB on x86_64)"
  "$VENV/bin/python" -m pip install --disable-pip-version-check --progress-bar on -c constraints.txt -e "$spec"
  echo "$want" > "$stamp"
}

install_system() {
  # Debian's Chromium for the browser tests; Fashion-MNIST as the second dataset.
  local need=()
  [ -x /usr/bin/chromium ] || need+=(chromium)
  [ -d /usr/share/datasets/fashion-mnist ] || need+=(dataset-fashion-mnist)
  if [ ${#need[@]} -gt 0 ]; then
    if command -v apt-get >/dev/null; then apt_install "${need[@]}"; else
      step "no apt-get: browser tests skip without Chromium at /usr/bin/chromium"; fi
  fi
}

case "${1:-}" in
  app)
    make_venv
    install_python app
    shift
    step "serving Latent Lab (Ctrl+C stops it)"
    exec "$VENV/bin/latent-lab" "$@"
    ;;
  test)
    install_system
    make_venv
    install_python test
    shift
    step "running the test suite"
    exec "$VENV/bin/python" -m pytest -q "$@"
    ;;
  setup)  # what ./run.sh test installs, without running the tests (CI lints in between)
    install_system
    make_venv
    install_python test
    ;;
  *)
    echo "usage: ./run.sh app [--host H --port N] | ./run.sh test [pytest args] | ./run.sh setup" >&2
    exit 2
    ;;
esac
