#!/usr/bin/env bash
# One command for each job on a fresh machine (Debian, Python 3.11):
#   ./run.sh app    install what the app needs, then serve it on http://localhost:8501
#   ./run.sh test   install everything (Chromium included), then run the whole test suite
set -euo pipefail
cd "$(dirname "$0")"
PY=${PYTHON:-python3}

install_python() {
  # torch first, pinned, so pip takes the local wheels instead of resolving a newer CUDA build.
  "$PY" -m pip install --quiet --disable-pip-version-check "torch==2.14.1" "torchvision==0.29.1"
  "$PY" -m pip install --quiet --disable-pip-version-check -e ".[app,test]"
}

install_system() {
  # Debian's Chromium for the browser tests; Fashion-MNIST as the second dataset.
  local need=()
  [ -x /usr/bin/chromium ] || need+=(chromium)
  [ -d /usr/share/datasets/fashion-mnist ] || need+=(dataset-fashion-mnist)
  if [ ${#need[@]} -gt 0 ]; then
    if [ "$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need[@]}"
  fi
}

use_full_data_if_present() {
  # The full MNIST lies beside the checkout on the team's machines; the bundled sample is the fallback.
  if [ -z "${AECORE_DATA_DIR:-}" ] && [ -d ../shared/data/MNIST/raw ]; then
    export AECORE_DATA_DIR="$(cd ../shared/data && pwd)"
  fi
}

case "${1:-}" in
  app)
    install_python
    use_full_data_if_present
    exec "$PY" -m streamlit run app.py
    ;;
  test)
    install_system
    install_python
    use_full_data_if_present
    shift
    exec "$PY" -m pytest -q "$@"
    ;;
  *)
    echo "usage: ./run.sh app | ./run.sh test [pytest args]" >&2
    exit 2
    ;;
esac
