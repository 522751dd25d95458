"""The guided tour (AppTest): every step renders on the shipped models, Back/Next move through the steps
and keep the step in the URL, a bad step in the URL falls back to a real one."""

import numpy as np
import pytest
from app_support import no_errors, page
from streamlit.testing.v1 import AppTest

from latent_lab.ui import tour


def open_tour(step=None, **state):
    at = AppTest.from_file(page("pages/7_Tour.py"), default_timeout=300)
    if step is not None:
        at.query_params["step"] = str(step)
    for k, v in state.items():
        at.session_state[k] = v
    return at.run()


@pytest.mark.parametrize("step", range(1, len(tour.STEPS) + 1))
def test_every_step_renders(app_env, step):
    at = open_tour(step)
    no_errors(at)
    assert at.subheader[0].value == f"{step}. {tour.STEPS[step - 1].title}"
    assert at.query_params["step"] == [str(step)] or at.query_params["step"] == str(step)
    assert at.get("imgs") or at.get("plotly_chart") or at.get("image")


def test_next_and_back_move_through_the_steps(app_env):
    at = open_tour()
    assert at.subheader[0].value.startswith("1. ")
    assert at.button(key="tour_back").disabled
    at.button(key="tour_next").click().run()
    at.button(key="tour_next").click().run()
    no_errors(at)
    assert at.subheader[0].value.startswith("3. ")
    at.button(key="tour_back").click().run()
    assert at.subheader[0].value.startswith("2. ")


@pytest.mark.parametrize("bad", ["0", "99", "two"])
def test_a_bad_step_in_the_url_falls_back(app_env, bad):
    at = open_tour(bad)
    no_errors(at)
    assert at.subheader[0].value.startswith("7. " if bad == "99" else "1. ")


def test_steps_use_the_audiences_drawing(app_env):
    seven = np.zeros((28, 28), np.float32)
    seven[5:8, 6:22] = 1.0
    for i in range(8, 24):
        seven[i, 21 - (i - 8) // 2: 24 - (i - 8) // 2] = 1.0
    at = open_tour(5, drawn_digit=seven)
    no_errors(at)
    assert any("your drawing is **stranger than" in m.value for m in at.markdown)
