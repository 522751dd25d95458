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

back, where, forward = st.columns([1, 6, 1])
if back.button("Back", icon=":material/arrow_back:", disabled=step == 1, key="tour_back", width="stretch"):
    st.query_params["step"] = str(step - 1)
    st.rerun()
if forward.button("Next", icon=":material/arrow_forward:", disabled=step == n, key="tour_next", width="stretch",
                  type="primary"):
    st.query_params["step"] = str(step + 1)
    st.rerun()
where.progress(step / n, text=f"Step {step} of {n}: " + " · ".join(
    f"**{s.title}**" if i + 1 == step else s.title for i, s in enumerate(tour.STEPS)))

current = tour.STEPS[step - 1]
st.subheader(f"{step}. {current.title}")
st.markdown(current.sentence)
with chrome.guard(current.title):
    current.show()
