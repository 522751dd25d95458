import numpy as np
import streamlit as st

from aecore import anomaly, ood
from latent_lab.ui import chrome, figures, resources, view, widgets

chrome.page("Anomalies")
st.caption("An autoencoder reconstructs what it has learned well and little else, so how badly it does is "
           "an anomaly score. How well a score tells the model's own test images from other images "
           "(out-of-distribution detection) is measured by AUROC: 1 is perfect, 0.5 is chance.")
entries = resources.models()
widgets.require(entries)

c1, c2 = st.columns(2)
with c1:
    entry = widgets.pick_model("Model", entries, key="anomaly_model", url="model")
scores = {s.key: s for s in anomaly.scores_for(entry)}

with chrome.guard("Anomaly scores"):
    model, test = widgets.load_or_stop(entry)
    report = resources.anomaly_report(entry)
    best = anomaly.best_score(report["rows"])
    score_key = f"anomaly_score.{entry.name}"
    view.restore_view({"score": (score_key, list(scores))}, view="anomaly_score")
    key = c2.selectbox("Score", list(scores), index=list(scores).index(best), key=score_key,
                       format_func=lambda k: scores[k].label + (" (best here)" if k == best else ""),
                       help="; ".join(f"{s.label}: {s.help}" for s in scores.values()))
    note = {"shipped": "precomputed and shipped with the app", "cache": "loaded from the cache"}.get(
        report["where"], f"computed now in {report['seconds']:.1f} s and cached")
    st.caption(f"{len(report['test']['mse']):,} test images ({chrome.plain(report['source'])}) and "
               f"{ood.SET_SIZE:,} images per other set — {note}.")
    normal = report["test"][key]
    others = {ood.SET_LABELS[name]: values[key] for name, values in report["sets"].items()}
    lo, hi = (float(v) for v in np.percentile(normal, [50, 100]))
    top = hi + (hi - lo) * 0.5
    slider_key = f"anomaly_threshold.{entry.name}.{key}"
    view.restore_view({"threshold": (slider_key, view.Within(lo, top))}, view="anomaly_threshold")
    threshold = st.slider(f"Threshold ({scores[key].unit})", lo, top, float(np.percentile(normal, 95)),
                          key=slider_key, help="images scoring above it are flagged; it starts where 5% of test "
                                               "images are")
    view.share_view({"score": key, "threshold": f"{threshold:.6g}"})
    flagged = {"test split": ood.flagged_share(normal, threshold)} | {
        name: ood.flagged_share(v, threshold) for name, v in others.items()}
    st.markdown("**Flagged:** " + " · ".join(f"{name} {share:.1%}" for name, share in flagged.items()))
    left, right = st.columns(2)
    widgets.chart(figures.score_histograms(normal, others, threshold, scores[key].unit), key="anomaly_hist",
                  container=left, alt=f"histograms of the {scores[key].label} on the test split and on each other "
                                      "set, with the threshold as a dashed line")
    curves = {name: (*ood.roc_curve(normal, v), ood.auroc(normal, v)) for name, v in others.items()}
    widgets.chart(figures.roc_figure(curves), key="anomaly_roc", container=right,
                  alt="ROC curves, one per other set: the share of other images flagged against the share of test "
                      "digits flagged, as the threshold moves")

with chrome.guard("Strangest digits"):
    import torch

    order = np.argsort(normal, kind="stable")
    st.subheader("What this model finds strangest")
    st.caption(f"The test images with the highest {scores[key].label} (strangest first), each above its "
               "reconstruction; then the most typical ones.")
    for title, rows in (("strangest", order[::-1][:12]), ("most typical", order[:12])):
        idx = torch.from_numpy(rows.copy())
        x = test.images[idx]
        with torch.no_grad():
            rec = model.reconstruct(x, test.labels[idx] if model.conditional else None)
        widgets.digits(torch.cat([x, rec]), cols=12, scale=3,
                       caption=f"{title}: originals (top), reconstructions (bottom); scores "
                               + ", ".join(f"{normal[i]:.3g}" for i in rows[:4]) + " …")

with chrome.guard("Every shipped model"):
    st.subheader("AUROC of every shipped model")
    shipped = [e for e in entries if e.source == "pretrained"]
    table = resources.auroc_table(shipped)
    for e in shipped:  # the known failure of raw likelihoods, found in the numbers rather than assumed
        rows = table[(table.model == e.name) & (table.score.isin(["nll", "nll_corrected"]))]
        for other_set, pair in rows.groupby("set"):
            raw, fixed = (float(pair[pair.score == k].auroc.iloc[0]) for k in ("nll", "nll_corrected"))
            if raw < 0.5 and chrome.presenter():  # for a room: the finding, not a warning with citations
                st.info(f"**{e.name}** finds {ood.SET_LABELS[other_set]} *more* normal than its own digits by "
                        f"likelihood alone (AUROC {raw:.2f}); corrected for how simple a picture is, it tells them "
                        f"apart (AUROC {fixed:.2f}).")
            elif raw < 0.5:
                st.warning(f"**{e.name}** ({e.dataset}): its raw likelihood calls {ood.SET_LABELS[other_set]} "
                           f"*more* normal than its own test images (AUROC {raw:.2f}, Nalisnick et al. 2019). "
                           f"Corrected for input complexity (Serrà et al. 2020): AUROC {fixed:.2f}.")
    wide = table.pivot_table(index=["model", "score"], columns="set", values="auroc", sort=False)
    if not chrome.presenter():
        st.dataframe(wide, column_config={c: st.column_config.NumberColumn(c, format="%.3f") for c in wide.columns})
        st.caption("Rows: model and score; columns: the OOD set. FPR95 and the numbers behind each row: "
                   "`aecore ood MODEL`.")
