"""The guided tour's steps: each a title, one sentence for the audience and the live widget it shows, laid
out as the step's words (and controls) in a narrow column beside its key picture, so a step fits a projector.

Every step works offline on the shipped models alone, and uses the digit drawn in step 1 (or on the
Draw page) where there is one, else a test digit, so a presenter can jump to any step.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import streamlit as st
import torch
from streamlit.delta_generator import DeltaGenerator

from aecore import anomaly, ood, preprocess, projection
from aecore import generate as G
from aecore.showcase import SHOWCASE_DIGIT
from latent_lab.ui import chrome, figures, resources, view, widgets
from latent_lab.ui.canvas import drawing_canvas


class Step(NamedTuple):
    title: str
    sentence: str
    show: Callable[[DeltaGenerator, DeltaGenerator], None]  # (the words' column, the picture's column)


def _digit() -> tuple[torch.Tensor, str]:
    """The audience's drawing if there is one, else the showcase test digit; with a word on which."""
    drawn = view.DRAWN_DIGIT.get()
    if drawn is not None:
        return preprocess.as_batch(drawn), "your drawing"
    test = resources.load_data("mnist", "test")
    return test.images[SHOWCASE_DIGIT: SHOWCASE_DIGIT + 1], f"test digit #{SHOWCASE_DIGIT}"


def _model(capability: str | None = None, variant: str | None = None):
    """(entry, model) of the first shipped MNIST model with a capability (or of a variant)."""
    for e in resources.shipped():
        if (capability is None or e.can(capability)) and (variant is None or e.variant == variant):
            return e, resources.model(e)
    raise ValueError(f"this step needs a shipped {variant or capability or ''} model; it is not installed")


def draw(words: DeltaGenerator, stage: DeltaGenerator) -> None:
    with words:
        try:
            view.DRAWN_DIGIT.set(preprocess.from_canvas(drawing_canvas("tour_canvas")))
        except preprocess.PreprocessError as e:
            if e.kind != "empty":
                st.error(f"Can't use this drawing: {e}")
    x, which = _digit()
    entries = resources.shipped()
    clf = resources.classifier()  # a conditional model is told the digit: the reference classifier's guess
    label = torch.tensor([int(clf.probabilities(x)[0].argmax()) if clf else 0])
    with stage, torch.no_grad():
        recs = [resources.model(e).reconstruct(x, label if e.conditional else None) for e in entries]
        widgets.digits(torch.cat([x, *recs]), cols=5, scale=4,
                       caption=f"{which}, then each model's copy: " + ", ".join(e.variant for e in entries),
                       alt=f"{which} and {len(entries)} copies of it, one rebuilt by each model, in rows of five")


def map_and_neighbours(words: DeltaGenerator, stage: DeltaGenerator) -> None:
    from aecore.metrics import nearest_codes

    x, which = _digit()
    e, model = _model(variant="vae")
    proj = widgets.quick_map(e)
    codes, test = resources.codes(e), resources.load_data("mnist", "test")
    with torch.no_grad():
        z = model.encode(x)[0]
    picture = resources.map_picture(f"{e.sha256}.{proj.key}", proj.coords, test.labels.numpy())
    with stage:
        widgets.chart(figures.marker_map(picture, projection.locate(codes, proj.coords, z), height=440,
                                         title=f"{which} (star) among 10,000 test digits"), key="tour_map",
                      alt=f"a map of 10,000 test digits, each digit's group numbered, with {which} as a red star")
    with words:
        idx, _ = nearest_codes(z[None], codes, 12)
        widgets.digits(test.images[idx[0]], cols=4, scale=3, caption="its 12 nearest digits by code",
                       alt=f"the 12 test digits whose codes lie nearest to that of {which}")


def walk(words: DeltaGenerator, stage: DeltaGenerator) -> None:
    e, model = _model(variant="vae")
    test = resources.load_data("mnist", "test")
    a = words.select_slider("From the digit", range(10), value=1, key="tour_from")
    b = words.select_slider("To the digit", range(10), value=7, key="tour_to")
    x0 = test.images[int((test.labels == a).nonzero()[0])]
    x1 = test.images[int((test.labels == b).nonzero()[0])]
    with stage:
        widgets.digits(G.interpolate_images(model, x0, x1, 10, "slerp"), cols=5, scale=5,
                       caption=f"{e.variant}: the codes of a {a} and a {b}, and eight steps between them, decoded",
                       alt=f"ten digits in two rows of five, changing step by step from a {a} into a {b}")


def denoise(words: DeltaGenerator, stage: DeltaGenerator) -> None:
    from aecore.compare import denoise_demo

    e, model = _model(capability="denoises")
    plain, plain_model = next((p, resources.model(p)) for p in resources.shipped() if not p.can("denoises"))
    test = resources.load_data("mnist", "test")
    level = words.slider("Noise", 0.1, 0.9, 0.5, 0.1, key="tour_noise")
    x, y = test.images[:8], test.labels[:8]
    demo = denoise_demo({plain.variant: plain_model, e.variant: model}, x, y, "gaussian", level)
    with stage:
        widgets.digits(torch.cat([demo["noisy"], *(m["images"] for m in demo["models"].values()), x]), cols=8,
                       scale=3, caption=f"rows: noisy input; {plain.variant} (not trained for noise); {e.variant} "
                                        "(trained to remove it); the clean originals",
                       alt=f"four rows of eight digits: noisy inputs, {plain.variant}'s blurry copies, "
                           f"{e.variant}'s cleaned copies, and the clean originals")


def strangest(words: DeltaGenerator, stage: DeltaGenerator) -> None:
    from aecore.showcase import strangest as pick

    e, model = _model()
    test, report = resources.load_data("mnist", "test"), resources.anomaly_report(e)
    x, which = _digit()
    key = anomaly.best_score(report["rows"])
    pct = ood.percentile(anomaly.compute_scores(model, x)[key][0], report["test"][key])
    odd = pick(test.images, report["test"][key], 10)
    with torch.no_grad():
        rec = model.reconstruct(odd)
    with stage:  # rows of five, each row of digits above the model's attempts: big enough for a room
        widgets.digits(torch.cat([odd[:5], rec[:5], odd[5:], rec[5:]]), cols=5, scale=4,
                       caption=f"the 10 test digits {e.variant} rebuilds worst (rows 1 and 3) and its attempts "
                               "(rows 2 and 4)",
                       alt=f"ten odd test digits, each above {e.variant}'s poor attempt to rebuild it")
    words.markdown(f"To {e.variant}, {which} is **{ood.in_words(pct, 'mnist')}**.")


def manifold(words: DeltaGenerator, stage: DeltaGenerator) -> None:
    e, model = _model(variant="vae")
    kl = resources.kl_per_dim(e)
    dx, dy = kl.argsort(descending=True).tolist()[:2]
    with stage:
        widgets.digits(G.manifold_grid(model, dx, dy, 14), cols=14, scale=2,
                       caption=f"{e.variant}: its two busiest code dimensions swept across a grid, the rest held at 0",
                       alt="a 14 by 14 grid of decoded digits that morph smoothly from one digit into another "
                           "across the grid")


def dream(words: DeltaGenerator, stage: DeltaGenerator) -> None:
    e, model = _model(capability="conditional")
    seed = 0 if chrome.presenter() else words.number_input("Seed", 0, 10_000, 0, key="tour_seed")
    with stage:
        widgets.digits(G.digit_styles(model, 8, int(seed)), cols=8, scale=3,
                       caption=f"{e.variant}: each column one random style, written as every digit 0–9",
                       alt="ten rows of eight made-up digits: each row one digit from 0 to 9, each column one "
                           "handwriting style")


# The pictures of the stage (pages/7_Tour.py wraps it in the keyed container "tour_stage") keep their aspect
# and stop at the screen's height less the band above them (title, Back/Next, margins), in rem, so the same
# rule holds for presenter mode's larger type; a phone stacks the columns and scrolls. The page's title is
# smaller here: on a projector the height belongs to the step.
STAGE_CSS = """<style>
.st-key-tour_stage [data-testid="stImage"] img { max-height: calc(100vh - 12rem); width: auto !important; }
[data-testid="stMain"] h1 { font-size: 1.8rem !important; padding: 0.25rem 0 0.5rem; }
.st-key-tour_stage h3 { padding: 0 0 0.25rem; }
</style>"""

STEPS = [
    Step("Draw a digit", "Draw any digit: every model squeezes it into a short code and rebuilds it from that code.",
         draw),
    Step("Where it lives", "The code places your digit on a map of 10,000 test digits: alike digits sit together.",
         map_and_neighbours),
    Step("Walk between digits", "Between the codes of two digits lie codes of digits nobody drew: a smooth walk.",
         walk),
    Step("Noise in, digit out", "A model trained on noisy copies learns to rebuild the clean digit.", denoise),
    Step("What looks strange", "What a model rebuilds badly is unlike what it has seen: that is anomaly detection.",
         strangest),
    Step("The map of all digits", "A VAE's codes fill a smooth space: sweep two numbers and digits morph.",
         manifold),
    Step("Dream up digits", "Random codes, decoded: new digits in styles no one wrote, each in every shape.", dream),
]
