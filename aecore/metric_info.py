"""Every metric, defined once: key, label, unit, format, which direction is better, and what it means.

:data:`METRICS` holds those every model has; a variant declares its own (``metric_info`` beside its
``extra_metrics``). :func:`aecore.models.all_metrics` joins them: that one list drives ``aecore eval``, the
model card (and the README table made from it), the Home page and the Compare page, so they never disagree.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Metric:
    key: str  # as in metrics.evaluate() and checkpoint metadata
    label: str  # column title
    fmt: str  # Python format spec of one value
    better: str | None  # "lower", "higher" or None (a property, not a score)
    help: str  # one line, for tooltips and the card
    unit: str = ""
    headline: bool = True  # a column of the main tables; False: a variant-specific figure

    def cell(self, value) -> str:
        """The value as a table cell ("–" when missing)."""
        if value is None:
            return "–"
        try:
            return format(int(value) if self.fmt.endswith("d") else value, self.fmt)
        except (TypeError, ValueError):
            return str(value)

    def text(self, value) -> str:
        """The value with its unit, for prose and the command line."""
        unit = f" {self.unit}" if self.unit and value is not None and not self.fmt.endswith("%") else ""
        return self.cell(value) + unit

    @property
    def streamlit_format(self) -> str:
        """The same format for ``st.column_config.NumberColumn``."""
        if self.fmt.endswith("%"):
            return "percent"
        if self.fmt.startswith(","):
            return "localized"
        return "%" + self.fmt


METRICS = [
    Metric("test_mse", "MSE", ".5f", "lower", "mean squared error per pixel between test digits and reconstructions"),
    Metric("psnr", "PSNR dB", ".2f", "higher", "peak signal-to-noise ratio of the reconstructions", "dB"),
    Metric("ssim", "SSIM", ".3f", "higher", "structural similarity of the reconstructions (1 = identical)"),
    Metric("knn5_acc", "kNN(5)", ".2%", "higher",
           "test digits whose 5 nearest training codes mostly share their label"),
    Metric("active_units", "active units", ".0%", "higher", "share of code dimensions that vary across test digits"),
    Metric("neg_elbo", "-ELBO nats", ".1f", "lower", "negative evidence lower bound per image (VAEs)", "nats"),
    Metric("params", "params", ",d", None, "trainable parameters"),
    Metric("train_seconds", "train s", ".0f", None, "wall-clock training time", "s"),
    Metric("test_bce", "BCE", ".4f", "lower", "binary cross-entropy per pixel", headline=False),
    Metric("latent_dim", "latent", ",d", None, "size of the code", headline=False),
    Metric("encode_latency_ms", "encode ms", ".2f", "lower", "median time to encode one digit", "ms", headline=False),
]
