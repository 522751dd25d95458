"""Train the reference classifier again (with augmentation, on the full MNIST training split) and ship it
as assets/classifier.safetensors, recording its accuracy on the MNIST test split and on the drawings set.

    python scripts/train_classifier.py --data-dir ../shared/data [--epochs 8 --out FILE]
    python scripts/train_classifier.py --data-dir ../shared/data --finetune 2   # go on from the shipped weights
    python scripts/train_classifier.py --data-dir ../shared/data --reevaluate   # after a preprocess change

``--finetune N`` trains the shipped weights N more epochs at a lower learning rate (minutes, not the hour
training from scratch takes on two CPU cores). ``--reevaluate`` keeps the weights and only measures them
again, into the file's metadata. Drawings are only ever measured, never trained or tuned on.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import torch
from safetensors import safe_open

from aecore.classifier import CLASSIFIER_PATH, accuracy, load_classifier, save_classifier, train_classifier
from aecore.data import load

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tests import drawings  # noqa: E402  (the drawings set is a test fixture, not package data)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-dir", default="../shared/data")
    parser.add_argument("--epochs", type=int, default=8)
    parser.add_argument("--out", type=Path, default=CLASSIFIER_PATH)
    parser.add_argument("--reevaluate", action="store_true")
    parser.add_argument("--finetune", type=int, metavar="EPOCHS", help="go on from --out's weights")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    train_data, test = load("mnist", "train", args.data_dir, download=False), load("mnist", "test", args.data_dir,
                                                                                  download=False)
    if args.reevaluate:
        model = load_classifier(args.out)
        with safe_open(str(args.out), "pt") as f:
            info = json.loads(f.metadata()["aecore_classifier"])
        info["test_accuracy"] = accuracy(model, test)
    else:
        assert not train_data.source.startswith("bundled"), "train on the full split: pass --data-dir"
        if args.finetune:
            with safe_open(str(args.out), "pt") as f:
                before = json.loads(f.metadata()["aecore_classifier"])
            model, info = train_classifier(train_data, test, epochs=args.finetune, lr=5e-4,
                                           start=load_classifier(args.out))
            info["finetuned_from"] = {k: before[k] for k in ("epochs", "augmentation", "train_seconds") if k in before}
        else:
            model, info = train_classifier(train_data, test, epochs=args.epochs)
        info["source"] = train_data.source
    info["drawings_accuracy"] = drawings.accuracy_by_kind(model, drawings.load())
    info["heldout_accuracy"] = drawings.accuracy_by_kind(model, drawings.load(drawings.HELDOUT_PATH))
    save_classifier(model, info, args.out)
    print(json.dumps(info, indent=1))


if __name__ == "__main__":
    main()
