"""Latent Lab. ``latent-lab`` (latent_lab.ui.serve) serves this file: the frame, then the page asked for."""

from latent_lab.ui import chrome

chrome.navigation()
