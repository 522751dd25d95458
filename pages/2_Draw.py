import streamlit as st

from aecore import preprocess
from aecore.metrics import per_image_mse
from latent_lab.ui import canvas, chrome, figures, resources, view, widgets

chrome.page("Draw")
entries = resources.models()
widgets.require(entries)

# The left column never gets narrower than the canvas (ui.canvas); on a phone the columns stack and the
# results come first on the right, so the copies appear right under the drawing.
left, right = st.columns([3, 4])
names = [e.name for e in entries]
digit_models = [e for e in entries if e.dataset == "mnist"] or entries  # a drawing is a digit: MNIST models
likely = [e.name for e in digit_models if e.can("has_likelihood")][:1]  # a VAE shows its posterior below
default = list(dict.fromkeys([e.name for e in digit_models[:6 - len(likely)]] + likely))
with right:
    results = st.container()  # filled below: the pictures come before the controls
    chosen = st.multiselect("Models", names, default=default, key="draw_models")
picked = [e for e in entries if e.name in chosen]
# The browser runs every model it can while the pen moves; the server runs the rest, and all of them for an upload.
specs = {e.name: spec for e in picked if (spec := resources.browser_model(e))}
with right:  # the canvas moves the drawing's marker on this map while the pen moves, if it runs that model
    map_entry = widgets.pick_model("Place the digit on this model's latent map", key="draw_map_model", entries=sorted(
        picked, key=lambda m: not m.can("has_likelihood"))) if picked else None  # a posterior first
    live_map = resources.browser_map(map_entry, widgets.quick_map(map_entry)) if map_entry and map_entry.name in specs \
        else None
with left:
    tab_draw, tab_upload = st.tabs(["Draw", "Upload"])
    with tab_draw:
        sketch = canvas.Sketch(None, None)
        try:
            sketch = canvas.sketch("canvas", models=list(specs.values()), classifier=resources.browser_classifier(),
                                   live_map=live_map)
        except preprocess.PreprocessError as e:
            st.error(f"Can't use this drawing: {e}")
        except Exception as e:  # noqa: BLE001 - the upload tab still works
            st.warning(f"The drawing canvas is unavailable ({type(e).__name__}); upload an image instead.")
        if sketch.problem:
            st.caption(f"The models run on the server: this browser cannot run them ({chrome.plain(sketch.problem)}).")
    with tab_upload:
        up = st.file_uploader("A picture of one digit (PNG, JPEG…)", type=list(preprocess.UPLOAD_TYPES),
                              max_upload_size=preprocess.MAX_UPLOAD_BYTES // 2**20, key="draw_upload")
        st.caption("Dark ink on light paper is detected and inverted. While a file is here, it is used "
                   "instead of the canvas.")

digit = None
with left:
    try:
        upload = preprocess.read_upload(up.getvalue()) if up is not None else None
        digit = upload.digit if upload else preprocess.from_canvas(sketch.rgba)
        for note in upload.notes if upload else ():
            st.caption(note)
    except preprocess.PreprocessError as e:
        (st.info if e.kind == "empty" else st.error)(
            "Draw a digit on the black canvas (or upload a picture): every model's reconstruction appears here."
            if e.kind == "empty" else f"Can't use this input: {e}")
    in_browser = sketch.live and up is None  # the canvas already shows the input, the guess and its copies
    if digit is not None:
        view.DRAWN_DIGIT.set(digit)

if digit is None:
    st.stop()

with right, chrome.guard("Reconstructing"):
    import torch

    x = preprocess.as_batch(digit)
    clf = resources.classifier()
    guess = None
    if clf is not None:
        probs = clf.probabilities(x)[0]
        guess = int(probs.argmax())
        if not in_browser:
            results.markdown(f"Reference classifier: **{guess}** ({float(probs[guess]):.0%} sure)")
    else:
        results.caption("The reference classifier is not installed.")
    if any(e.conditional for e in picked):
        label = st.number_input("Digit label for the conditional model (cvae)", 0, 9,
                                value=guess if guess is not None else 0, key="draw_label")
    recon = {}
    for e in [e for e in picked if not (in_browser and e.name in specs)]:
        model, _ = resources.load_model(e)
        with torch.no_grad():
            recon[e.name] = model.reconstruct(x, torch.tensor([int(label)]) if e.conditional else None)
    shown = ([] if in_browser else [x]) + list(recon.values())
    if shown:
        with results:
            widgets.gallery(shown, ([] if in_browser else ["28×28 model input"]) + [
                f"{name}: MSE {float(per_image_mse(r, x)):.4f}" for name, r in recon.items()],
                alt="the drawing as the models read it, then each model's reconstruction")
with right, chrome.guard("Code grid"):
    for e in [e for e in picked if e.can("has_codebook")]:
        model, _ = resources.load_model(e)
        widgets.chart(figures.code_grid(model.code_indices(x)[0], model.config.codebook_size,
                                        title=f"{e.name}: codebook entry at each position"), key=f"grid.{e.name}",
                      alt=f"{e.name}: the number of the codebook entry at each position of its code grid")

with right, chrome.guard("Latent map"):
    if map_entry is not None:  # how strange the drawing is to that model, its place on the map, its neighbours
        widgets.drawing_in_latent_space(map_entry, x, int(label) if map_entry.conditional else None,
                                        star_in_browser=in_browser and live_map is not None)
