"""The browser's side of hover and sliders, checked from Python: the map's binary file (aecore.browser_map) holds
exactly the points, codes and labels, named by its content; the codes the server decodes for a slider
(ui.live_views) are those of aecore.generate; and where no browser decodes (AppTest runs no JavaScript), the
Latent space and Generate pages still render, the server decoding what the sliders hold."""

import gzip

import numpy as np
import pytest
import torch
from app_support import no_errors, run_page

from aecore import browser_map
from aecore import generate as G


def test_the_map_file_holds_the_points_codes_and_labels(tmp_path):
    rng = np.random.default_rng(0)
    coords, codes = rng.standard_normal((50, 2)), rng.standard_normal((50, 7)).astype(np.float16)
    labels, noise = rng.integers(0, 10, 50), rng.standard_normal((4, 7))
    path = browser_map.write(browser_map.pack(coords, codes, labels, noise=noise), tmp_path)
    assert path.name.endswith(browser_map.SUFFIX)
    read = browser_map.unpack(gzip.decompress(path.read_bytes()))
    assert np.array_equal(read["coords"], coords.astype(np.float32))
    assert np.array_equal(read["codes"], codes.astype(np.float32))  # the code cache's float16: nothing lost
    assert np.array_equal(read["labels"], labels) and np.array_equal(read["noise"], noise.astype(np.float32))
    assert browser_map.unpack(browser_map.pack(coords, codes))["labels"] is None
    assert browser_map.write(browser_map.pack(coords, codes, labels, noise=noise), tmp_path) == path  # same file
    assert browser_map.write(browser_map.pack(coords + 1, codes, labels), tmp_path) != path  # a new map, a new name
    first = browser_map.write(browser_map.pack(coords + 2, codes), tmp_path, keep=2)
    browser_map.write(browser_map.pack(coords + 3, codes), tmp_path, keep=2)
    assert path.is_file() is False and first.is_file()  # only the two used last stay
    with pytest.raises(ValueError):
        browser_map.pack(coords[:3], codes, labels)
    with pytest.raises(ValueError):
        browser_map.unpack(b"\0" * 16)


def test_the_sliders_codes_are_aecores():
    from latent_lab.ui.live_views import code_of_sliders, code_on_path

    z0, z1 = torch.randn(8), torch.randn(8)
    for mode in ("linear", "slerp"):
        path = G.interpolate(z0, z1, 5, mode)
        for i, t in enumerate(np.linspace(0, 1, 5)):
            assert torch.allclose(code_on_path(z0, z1, t, mode), path[i], atol=1e-6)
    z = code_of_sliders(8, [3, 5], [1.5, -2.0])
    assert z[3] == 1.5 and z[5] == -2.0 and int((z != 0).sum()) == 2


def test_pages_render_the_server_path_without_a_browser(app_env):
    at = run_page("pages/4_Generate.py", gen_model="vae")
    no_errors(at)
    captions = [c for im in at.image for c in im.captions]
    assert "decoded at this position" in captions and "decoded from these values" in captions
    at = run_page("pages/3_Latent_space.py", latent_model="cvae", latent_method="pca")
    no_errors(at)
    assert any("Point anywhere" in c.value for c in at.caption)


def test_a_links_slider_values_are_bounded_where_they_enter():
    from latent_lab.ui.view import MAX_LINK_NUMBERS, parse_numbers

    assert parse_numbers("0.25") == [0.25]
    assert parse_numbers("1.5,-2,0") == [1.5, -2.0, 0.0]
    for hostile in ("", None, "abc", "nan", "1,inf", "1e999", "0x10", ",", "1;2"):
        assert parse_numbers(hostile) is None, hostile
    assert len(parse_numbers(",".join(["1"] * 10_000))) == MAX_LINK_NUMBERS


def test_a_shared_link_reopens_the_sliders_where_they_were_let_go(app_env):
    """Generate opened on a link with ``path_t`` and ``code``: the server decodes those values (clipped to the
    sliders' range) and the URL keeps them, once: sliders made anew later start from their default; a hostile
    value is ignored, no error."""
    from app_support import page
    from streamlit.testing.v1 import AppTest

    def opened(**params):
        at = AppTest.from_file(page("pages/4_Generate.py"), default_timeout=180)
        at.session_state["gen_model"] = "vae"
        for k, v in params.items():
            at.query_params[k] = v
        return at.run()

    def param(at, name):
        value = at.query_params[name]
        return value if isinstance(value, str) else value[0]

    plain, linked = opened(), opened(path_t="0.1", code="9,-1.5")
    no_errors(linked)
    assert param(linked, "path_t") == "0.1" and param(linked, "code").startswith("3,-1.5")  # clipped to ±3

    def decoded(at, caption):
        return next(im for im in at.image for c in im.captions if c == caption)

    for caption in ("decoded at this position", "decoded from these values"):  # the link's values, not the default
        assert decoded(plain, caption).value != decoded(linked, caption).value, caption
    linked.slider(key="gen_k").set_value(4).run()  # sliders made anew: the link set the view once, not again
    no_errors(linked)
    assert param(linked, "code") == "0,0,0,0" and param(linked, "path_t") == "0.1"
    hostile = opened(path_t="nan", code="x" * 5000)
    no_errors(hostile)
    assert param(hostile, "path_t") == "0.5"  # the default again, in the URL the page shares
