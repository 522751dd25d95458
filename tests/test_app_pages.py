"""Every page renders on the bundled defaults, and its main controls do what they say (Streamlit AppTest)."""

import json
import re

import pytest
from app_support import PAGES, no_errors, page, png_of_one, run_page, select_points, shown

TITLES = ["Latent Lab", "Train", "Draw", "Latent space", "Generate", "Compare", "Anomalies", "Guided tour",
          "Directions", "Side by side"]


@pytest.mark.parametrize(("path", "title"), list(zip(PAGES, TITLES, strict=True)))
def test_page_renders(app_env, path, title):
    at = run_page(path, latent_method="pca")
    no_errors(at)
    assert [t.value for t in at.title] == [title]
    assert len(list(at.main)) > 3  # more than a title: the page drew its content


@pytest.mark.parametrize("path", PAGES)
def test_page_renders_with_no_models(app_env, path, monkeypatch, tmp_path):
    monkeypatch.setenv("AECORE_MODELS_DIR", str(tmp_path / "none"))
    monkeypatch.setenv("AECORE_PRETRAINED_DIR", str(tmp_path / "none"))
    at = run_page(path)
    no_errors(at)
    if path not in ("pages/0_Home.py", "pages/1_Train.py"):
        assert any("No " in i.value and "Train" in i.value for i in at.info)


def test_home_lists_models_and_data_source(app_env):
    at = run_page("app.py")
    no_errors(at)
    table = at.dataframe[0].value
    assert {"dense", "vae", "cvae", "denoising"} <= set(table["model"])
    assert any("bundled sample" in m.value for m in at.markdown)


def test_home_download_button_says_in_one_line_when_offline(app_env):
    at = run_page("app.py")
    at.button(key="download_mnist").click().run()
    assert not at.exception
    assert [shown(e.value) for e in at.error] == ["Finding the dataset: not downloading: AECORE_OFFLINE is set"]
    assert any("bundled sample" in m.value for m in at.markdown)  # the app goes on with what it has


def test_draw_shows_the_code_grid_of_a_model_with_a_codebook(app_env):
    at = run_page("pages/2_Draw.py", draw_models=["vq_vae (pretrained)", "dense"], draw_map_model="dense")
    at.file_uploader(key="draw_upload").set_value(("one.png", png_of_one(), "image/png")).run()
    no_errors(at)
    grids = [c for c in at.get("plotly_chart") if "codebook entry at each position" in c.proto.spec]
    assert len(grids) == 1  # only the model that declares a codebook gets one


def test_draw_empty_canvas_is_a_hint(app_env):
    at = run_page("pages/2_Draw.py")
    no_errors(at)
    assert any("Draw a digit" in i.value for i in at.info)


def test_draw_upload_reconstructs_with_every_model(app_env):
    at = run_page("pages/2_Draw.py", draw_models=["dense", "vae", "cvae", "denoising"], draw_map_model="vae")
    at.file_uploader(key="draw_upload").set_value(("one.png", png_of_one(), "image/png")).run()
    no_errors(at)
    captions = [c for im in at.image for c in im.captions]
    for name in ("dense", "vae", "cvae", "denoising"):
        assert any(c.startswith(f"{name}: MSE") for c in captions), captions
    assert any("nearest test digits" in c for c in captions)
    assert len(at.get("plotly_chart")) == 1  # the drawing placed on the vae's latent map
    assert at.session_state["drawn_digit"].shape == (28, 28)


@pytest.mark.parametrize(("map_model", "trace"), [
    ("vae", "samples of q(z|x)"), ("vae_2d (pretrained)", "q(z|x), 2σ"), ("dense", None)])
def test_draw_shows_the_posterior_of_a_vae_map(app_env, map_model, trace):
    """A VAE's map carries its posterior (samples, or the shipped vae_2d's ellipse on its latent plane); a plain
    autoencoder's has none."""
    from aecore.storage import pretrained_dir

    if map_model.endswith("(pretrained)") and not (pretrained_dir() / "vae_2d.safetensors").is_file():
        pytest.skip("needs the shipped vae_2d")
    models = ["dense", "vae", map_model]
    at = run_page("pages/2_Draw.py", draw_models=models, draw_map_model=map_model)
    at.file_uploader(key="draw_upload").set_value(("one.png", png_of_one(), "image/png")).run()
    no_errors(at)
    names = {t.get("name") for t in json.loads(at.get("plotly_chart")[0].proto.spec)["data"]}
    for name in ("samples of q(z|x)", "q(z|x), 2σ"):
        assert (name in names) == (name == trace), name


@pytest.mark.parametrize("content", [b"definitely not an image", b""])
def test_draw_bad_upload_is_one_clear_error(app_env, content):
    at = run_page("pages/2_Draw.py")
    at.file_uploader(key="draw_upload").set_value(("x.png", content, "image/png")).run()
    assert not at.exception
    assert len(at.error) == 1 and "Can't use this input" in at.error[0].value


def test_latent_projection_switch_and_cache(app_env):
    at = run_page("pages/3_Latent_space.py", latent_model="vae", latent_method="pca")
    no_errors(at)
    assert any(re.match(r"PCA of .*'s 10,000 test codes.*computed now", c.value) for c in at.caption)
    at.select_slider(key="latent_n").set_value(1000)
    at.radio(key="latent_method").set_value("tsne").run()
    no_errors(at)
    assert any(re.match(r"t-SNE of .*'s 1,000 test codes.*computed now", c.value) for c in at.caption)
    at.radio(key="latent_method").set_value("pca").run()
    at.select_slider(key="latent_n").set_value(0).run()
    assert any(re.match(r"PCA of .*'s 10,000 test codes.*from the cache", c.value) for c in at.caption)
    at.radio(key="latent_color").set_value("error").run()
    no_errors(at)


def test_latent_selection_shows_digits(app_env):
    at = run_page("pages/3_Latent_space.py", latent_model="cvae", latent_method="pca")
    assert any("Select digits" in i.value for i in at.info)
    select_points(at, [7])
    no_errors(at)
    assert any(m.value.startswith("**Test digit #7**") for m in at.markdown)
    select_points(at, [1, 2, 3, 40, 41])
    no_errors(at)
    assert any(m.value.startswith("**5 digits selected**") for m in at.markdown)
    captions = [c for im in at.image for c in im.captions]
    assert "decoding of the mean code" in captions


def test_a_map_draws_each_digit_as_its_own_trace_and_tells_digits_from_places_clicked():
    """The digits of a map are one WebGL trace per label (one colour each, a legend entry each) whose customdata
    keeps the test row; a click or box select reads rows back from it, and a click on empty space (the decode
    grid) gives the place, whichever order the traces have."""
    from types import SimpleNamespace

    import numpy as np

    from latent_lab.ui import figures, view

    rng = np.random.default_rng(0)
    rows = np.array([3, 8, 12, 20, 31, 40])  # a subset of test rows, as a map of fewer points has
    labels = rng.integers(0, 10, 50)
    fig = figures.latent_figure(rng.standard_normal((6, 2)), labels, rng.random(50), rows=rows, grid=4,
                                highlight=[12])
    digits = [t for t in fig.data if t.name not in ("decode here", "shared selection")]
    assert [t.name for t in digits] == [str(d) for d in sorted(set(labels[rows]))]
    for trace in digits:
        assert isinstance(trace.marker.color, str) and set(trace.customdata[:, 1]) == {int(trace.name)}
        assert all(labels[int(r)] == int(trace.name) for r in trace.customdata[:, 0])
    assert sorted(r for t in digits for r in t.customdata[:, 0]) == rows.tolist()
    assert [t.name for t in fig.data][-2:] == ["decode here", "shared selection"]

    def event(*points):
        return SimpleNamespace(selection=SimpleNamespace(points=list(points)))

    digit = {"curve_number": 2, "point_index": 0, "customdata": {"0": 12.0, "1": 4.0, "2": 0.01}}
    place = {"curve_number": len(digits), "point_index": 5, "x": 0.5, "y": -1.0,
             "customdata": {"0": figures.GRID_ROW}}
    ring = {"curve_number": len(digits) + 1, "point_index": 0, "x": 0.1, "y": 0.2}
    assert view.chart_selection(event(digit, ring)) == ([12], None)
    assert view.chart_selection(event(place)) == ([], (0.5, -1.0))
    assert view.chart_selection(event(digit, place)) == ([12], None)  # a box over both selects the digit
    assert view.chart_selection(None) == ([], None)
    colour_by_error = figures.latent_figure(rng.standard_normal((50, 2)), labels, rng.random(50), color_by="error")
    assert len(colour_by_error.data) == 1 and colour_by_error.data[0].marker.colorscale


def test_generate_samples_change_with_seed(app_env):
    at = run_page("pages/4_Generate.py", gen_model="vae")
    no_errors(at)
    first = at.image[0].value
    at.number_input(key="gen_seed").set_value(7).run()
    no_errors(at)
    assert at.image[0].value != first
    assert "seed 7" in at.image[0].captions[0]
    at.radio(key="gen_mode").set_value("slerp").run()
    at.slider(key="gen_temp").set_value(0.5).run()
    no_errors(at)


def test_generate_cvae_tabs(app_env):
    at = run_page("pages/4_Generate.py", gen_model="cvae")
    no_errors(at)
    captions = [c for im in at.image for c in im.captions]
    assert any("each column: one style" in c for c in captions)
    assert any("as each digit 0-9" in c for c in captions)
    at.selectbox(key="gen_digit").set_value(3).run()
    at.selectbox(key="gen_dx").set_value(0)
    at.selectbox(key="gen_dy").set_value(0).run()
    assert any("two different" in i.value for i in at.info)


def test_generate_uses_the_drawing(app_env):
    import numpy as np

    at = run_page("pages/4_Generate.py", gen_model="vae", drawn_digit=np.zeros((28, 28), np.float32))
    at.checkbox(key="gen_use_drawn").check().run()
    no_errors(at)


def test_compare_denoising_controls(app_env):
    at = run_page("pages/5_Compare.py", noise_plain="dense", noise_denoising="denoising")
    no_errors(at)
    assert {"dense", "denoising"} <= {m.label for m in at.metric}
    def noisy_caption():
        return next(c for im in at.image for c in im.captions if c.startswith("noisy input"))

    before = noisy_caption()
    at.selectbox(key="noise_kind").set_value("salt_pepper")
    at.slider(key="noise_level").set_value(0.2).run()
    no_errors(at)
    assert noisy_caption() != before
    at.selectbox(key="compare_metric").set_value("PSNR dB").run()
    no_errors(at)


def test_compare_measures_models_saved_without_metrics(app_env):
    from aecore import checkpoint

    model, _ = checkpoint.load(app_env["models"] / "dense.safetensors")
    checkpoint.save(model, app_env["models"] / "bare.safetensors")  # no metrics, like --fast-eval
    at = run_page("pages/5_Compare.py")
    table = at.dataframe[0].value.set_index("model")
    assert table.loc["bare", "MSE"] != table.loc["bare", "MSE"]  # NaN: unknown
    at.toggle(key="measure_missing").set_value(True).run()
    no_errors(at)
    table = at.dataframe[0].value.set_index("model")
    assert 0 < table.loc["bare", "MSE"] < 1 and table.loc["bare", "PSNR dB"] > 0
    assert "test_mse" not in checkpoint.load(app_env["models"] / "bare.safetensors")[1].get("metrics", {})


@pytest.mark.parametrize("path,key", [("pages/3_Latent_space.py", "latent_model"),
                                      ("pages/4_Generate.py", "gen_model")])
def test_a_model_file_that_breaks_after_listing_is_one_error(app_env, path, key, monkeypatch):
    from aecore.checkpoint import CheckpointError
    from latent_lab.ui import resources

    def broken(*a):
        raise CheckpointError("weights cannot be read (truncated or corrupt file)")

    monkeypatch.setattr(resources, "model", broken)
    at = run_page(path, **{key: "vae", "latent_method": "pca"})
    assert not at.exception
    assert any("Can't use vae" in e.value for e in at.error)


def test_a_new_variant_appears_on_the_generic_pages_by_the_contract_alone(app_env):
    """vq_vae has no page code of its own: Train builds its widgets, Latent space maps it, Compare lists it."""
    at = run_page("pages/1_Train.py", train_variant="vq_vae")
    no_errors(at)
    assert {"code dim", "codebook size", "commitment"} <= {w.label for w in at.number_input}
    at = run_page("pages/3_Latent_space.py", latent_model="vq_vae (pretrained)", latent_method="pca")
    no_errors(at)
    assert any(re.match(r"PCA of .*'s 10,000 test codes \(784-D\)", c.value) for c in at.caption)
    at = run_page("pages/5_Compare.py")
    no_errors(at)
    table = at.dataframe[0].value.set_index("model")
    assert table.loc["vq_vae (pretrained)", "codebook perplexity"] > 64


@pytest.mark.parametrize("path", PAGES)
def test_presenter_mode_hides_developer_controls(app_env, path):
    """?presenter=1: every page renders, with no hyperparameter boxes, seeds or raw metric tables."""
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(page(path), default_timeout=300)
    at.query_params["presenter"] = "1"
    at.run()
    no_errors(at)
    assert not [w for w in at.number_input if "eed" in (w.label or "") or "." in (w.key or "")]
    assert not at.dataframe
    assert any("font-size" in str(h.proto) for h in at.get("html"))


def test_a_shared_latent_view_reopens_from_its_url(app_env):
    """Model, projection, colouring, points and selection come back from the URL; the view writes them there."""
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(page("pages/3_Latent_space.py"), default_timeout=300)
    at.query_params.update({"model": "vae", "map": "pca", "colour": "error", "points": "0", "sel": "3,5,8"})
    at.run()
    no_errors(at)
    assert at.selectbox(key="latent_model").value == "vae" and at.radio(key="latent_method").value == "pca"
    assert at.radio(key="latent_color").value == "error"
    assert any(m.value.startswith("**3 digits selected**") for m in at.markdown)
    assert at.query_params["sel"] in (["3,5,8"], "3,5,8")
    # A link with a model that is not there (or garbage) opens the default view, no error.
    bad = AppTest.from_file(page("pages/3_Latent_space.py"), default_timeout=300)
    bad.query_params.update({"model": "gone", "map": "nope", "sel": "x"})
    bad.run()
    no_errors(bad)


def test_clicking_empty_space_on_the_map_decodes_there(app_env):
    from app_support import click_map

    at = run_page("pages/3_Latent_space.py", latent_model="vae", latent_method="pca")
    no_errors(at)
    at = click_map(at, 0.5, -0.5)
    no_errors(at)
    assert "decoded at (0.50, -0.50)" in [c for im in at.image for c in im.captions]


def test_directions_page_moves_a_digit_along_each_kind_of_direction(app_env):
    at = run_page("pages/8_Directions.py", dir_model="vae")
    no_errors(at)
    assert any("4s test digits to that of" in c.value for c in at.caption)
    for kind in ("ink", "slant"):
        at.radio(key="dir_kind").set_value(kind).run()
        no_errors(at)
        assert any("towards" in c for im in at.image for c in im.captions)
    at.slider(key="dir_reach").set_value(3.0).run()
    no_errors(at)


def test_two_map_selections_make_a_direction(app_env):
    at = run_page("pages/3_Latent_space.py", latent_model="vae", latent_method="pca")
    at = select_points(at, [1, 2, 3, 4])
    at.button(key="dir_group_a").click().run()
    at = select_points(at, [10, 11, 12])
    at.button(key="dir_group_b").click().run()
    no_errors(at)
    groups = at.session_state["direction_groups"]  # the session goes on to the Directions page
    at = run_page("pages/8_Directions.py", dir_model="vae", direction_groups=groups)
    at.radio(key="dir_kind").set_value("selections").run()
    no_errors(at)
    assert any("4 group A test digits to that of 3 group B" in c.value for c in at.caption)


def test_side_by_side_links_the_selection(app_env):
    at = run_page("pages/9_Side_by_side.py", pair_left="vae", pair_right="dense")
    no_errors(at)
    at = select_points(at, [5, 6, 7], chart=0)
    no_errors(at)
    assert any(m.value.startswith("**3 digits selected**") for m in at.markdown)
    specs = [c.proto.spec for c in at.get("plotly_chart")]
    assert all("shared selection" in spec for spec in specs)  # ringed on both maps
    at = select_points(at, [8, 9], chart=1)  # a new selection on the other map replaces it
    assert any(m.value.startswith("**2 digits selected**") for m in at.markdown)
    at.button(key="pair_clear").click().run()
    no_errors(at)
    assert any("Select digits on either map" in i.value for i in at.info)


def test_a_shared_directions_view_reopens_from_its_url(app_env):
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(page("pages/8_Directions.py"), default_timeout=300)
    at.query_params.update({"model": "vae", "between": "digits", "from": "3", "to": "8", "row": "42", "reach": "2.5"})
    at.run()
    no_errors(at)
    assert (at.selectbox(key="dir_a").value, at.selectbox(key="dir_b").value) == (3, 8)
    assert at.number_input(key="dir_row").value == 42 and at.slider(key="dir_reach").value == 2.5
    assert any("3s test digits to that of" in c.value for c in at.caption)


def _opened_with(path: str, params: dict):
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(page(path), default_timeout=300)
    at.query_params.update(params)
    at.run()
    no_errors(at)
    return at


def test_a_shared_generate_view_reopens_from_its_url(app_env):
    """The model, the tab and every control come back from a link (the browser writes bound controls into the
    URL; the browser test checks that)."""
    shared = {"model": "cvae", "gen_tab": "Manifold", "gen_temp": "1.5", "gen_seed": "7", "gen_i1": "42",
              "gen_mode": "spherical (slerp)", "gen_gn": "9"}
    at = _opened_with("pages/4_Generate.py", shared)
    assert at.selectbox(key="gen_model").value == "cvae"
    assert at.slider(key="gen_temp").value == 1.5 and at.number_input(key="gen_seed").value == 7
    assert at.number_input(key="gen_i1").value == 42 and at.radio(key="gen_mode").value == "slerp"
    assert at.slider(key="gen_gn").value == 9
    assert at.session_state["gen_tab"] == "Manifold"
    assert at.query_params["model"] in ("cvae", ["cvae"])


def test_a_shared_compare_view_reopens_from_its_url(app_env):
    at = _opened_with("pages/5_Compare.py", {"compare_n": "6", "compare_seed": "3", "noise_kind": "salt_pepper",
                                              "noise_level": "0.3"})
    assert at.slider(key="compare_n").value == 6 and at.number_input(key="compare_seed").value == 3
    assert at.selectbox(key="noise_kind").value == "salt_pepper" and at.slider(key="noise_level").value == 0.3


def test_a_shared_anomalies_view_reopens_from_its_url(app_env):
    first = _opened_with("pages/6_Anomalies.py", {"model": "vae", "score": "mse"})
    slider = first.slider(key="anomaly_threshold.vae.mse")
    middle = f"{(slider.min + slider.max) / 2:.6g}"
    at = _opened_with("pages/6_Anomalies.py", {"model": "vae", "score": "mse", "threshold": middle})
    assert at.selectbox(key="anomaly_model").value == "vae"
    assert at.selectbox(key="anomaly_score.vae").value == "mse"
    assert at.slider(key="anomaly_threshold.vae.mse").value == pytest.approx(float(middle))
    at.selectbox(key="anomaly_score.vae").set_value("bce").run()  # the old threshold is not carried over
    no_errors(at)
    assert at.query_params["score"] in ("bce", ["bce"])
    assert float(at.query_params["threshold"] if isinstance(at.query_params["threshold"], str)
                 else at.query_params["threshold"][0]) != pytest.approx(float(middle))


def test_a_shared_side_by_side_view_reopens_from_its_url(app_env):
    at = _opened_with("pages/9_Side_by_side.py", {"left": "vae", "right": "dense", "sel": "5,6,7"})
    assert (at.selectbox(key="pair_left").value, at.selectbox(key="pair_right").value) == ("vae", "dense")
    assert any(m.value.startswith("**3 digits selected**") for m in at.markdown)


def test_a_shared_selection_is_bounded_where_it_enters():
    """A link's ``sel``: at most 300 distinct existing test rows, first seen first; the rest dropped with a
    note; a string of any length is cut before it is split (a million entries cost nothing)."""
    from latent_lab.ui.view import MAX_SELECTION, parse_rows

    assert parse_rows("5,3,5,x,-1,10000,7", n_rows=10000) == ([5, 3, 7], "3 entries that name no test digit ignored")
    rows, note = parse_rows(",".join(map(str, range(1_000_000))), n_rows=10000)
    assert rows == list(range(MAX_SELECTION)) and "cut to 300 digits" in note
    assert parse_rows("", 10) == ([], None) and parse_rows("9" * 5000, 10)[0] == []
