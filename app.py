"""Latent Lab. ``latent-lab`` (serve.py) serves this file: it sets up the app and lists its pages, once."""

import streamlit as st

import app_state as S

st.set_page_config(page_title="Latent Lab", page_icon=":material/science:", layout="wide")
S.set_presenter(st.sidebar.toggle("Presenter mode", value=S.presenter(), key="presenter_toggle",
                                  help="Larger type and pictures, developer controls hidden (or add ?presenter=1 "
                                       "to the address). The theme (light or dark) is in the ⋮ menu, Settings."))
st.navigation([st.Page(p.path, title=p.label, icon=p.icon, url_path=p.url, default=not p.url)
               for p in S.PAGES]).run()
