import streamlit as st

from latent_lab.ui import chrome, resources, tour, widgets

chrome.page("Guided tour")
entries = resources.shipped()
widgets.require(entries, "pretrained models (the tour runs on the shipped ones)")

# The step lives in the URL (?step=3), so a presenter can jump to one, and Back/Next keep it there.
n = len(tour.STEPS)
try:
    step = min(max(int(st.query_params.get("step", 1)), 1), n)
except ValueError:
    step = 1
st.query_params["step"] = str(step)

# One row whose buttons take the width their words need (never "B…"), the progress bar the rest.
nav = st.container(horizontal=True, vertical_alignment="center", key="tour_nav")
if nav.button("Back", icon=":material/arrow_back:", disabled=step == 1, key="tour_back"):
    st.query_params["step"] = str(step - 1)
    st.rerun()
nav.progress(step / n, text=f"Step {step} of {n}: " + " · ".join(
    f"**{s.title}**" if i + 1 == step else s.title for i, s in enumerate(tour.STEPS)))
if nav.button("Next", icon=":material/arrow_forward:", disabled=step == n, key="tour_next", type="primary"):
    st.query_params["step"] = str(step + 1)
    st.rerun()

# The key picture never runs below the screen: at most the height left under the title and this row.
st.html(tour.STAGE_CSS)
current = tour.STEPS[step - 1]
words, stage = st.container(key="tour_stage").columns([1, 2])
words.subheader(f"{step}. {current.title}")
words.markdown(current.sentence)
with chrome.guard(current.title):
    current.show(words, stage)
