#!/usr/bin/env bash
# Trains the two reference models of docs/reproduction.md (Burda et al. 2016, Table 1: 784-200-200-50, tanh,
# dynamically binarized MNIST, Adam, batch 100) through the real `aecore train`, one after the other on both
# threads, in the background; logs and checkpoints go to runs/ (git-ignored). Then: python scripts/reproduce_iwae.py.
# Alone on both threads a k=5 epoch takes about 7 s here (12 s beside another run): docs/tuning.md. --minutes
# bounds each run: the cosine schedule then anneals within the time and the run ends cleanly, saved. The shipped
# vae_bin ran its 1,000 epochs in 67 minutes on one thread; iwae_bin reached 730 epochs in its 88 minutes.
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p runs
PY=${PYTHON:-python}
# A frozen copy of the package runs them: editing the checkout meanwhile cannot change a run in flight.
rm -rf runs/code && mkdir -p runs/code && cp -r aecore runs/code/ && ln -sfn ../../assets runs/code/assets
export PYTHONPATH="$PWD/runs/code"
: "${AECORE_DATA_DIR:?set AECORE_DATA_DIR to the full MNIST (the bundled sample has 10,000 training digits)}"
MINUTES=${MINUTES:-88}
net=(--binarize dynamic --latent-dim 50 --set hidden1=200 --set hidden2=200 --set activation=tanh
     --batch-size 100 --lr 1e-3 --schedule cosine --seed 0 --minutes "$MINUTES")
run() {  # name, k, epochs
    OMP_NUM_THREADS=2 MKL_NUM_THREADS=2 "$PY" -m aecore train vae "${net[@]}" \
        --iwae-k "$2" --epochs "$3" --out "runs/$1.safetensors" --json >"runs/$1.log" 2>&1 < /dev/null
}
export -f run
export PY
setsid nohup bash -c "$(declare -p net); run vae_bin 1 1000; run iwae_bin 5 1000" >/dev/null 2>&1 < /dev/null &
echo "vae_bin, then iwae_bin: pid $!, logs runs/vae_bin.log and runs/iwae_bin.log"
