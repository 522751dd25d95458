"""The app wing of Latent Lab: everything Streamlit, none of the logic (that lives in ``aecore``).

chrome     the frame: the page list, presenter mode, the error guard and the server log
view       what a session sees: URL-shared view state and the typed session keys
resources  per-server caches of models, data, codes, maps and reports (one decorator)
widgets    the shared widgets: model pickers, hyperparameter boxes, digit strips, progress
figures    Plotly figures (pure functions of arrays)
canvas     the drawing canvas, its payload bounded where it enters
tour       the guided tour's steps
serve      ``latent-lab``: the launcher and its Streamlit settings
"""
