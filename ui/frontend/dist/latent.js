// Hover to decode (a Streamlit Custom Components v2 component, see ui/live_views.py): the digit under the pointer
// on the page's latent map, decoded in the browser on every animation frame in which the pointer moved.
//
// The map stays Streamlit's Plotly chart (with its click and box/lasso selection); this component runs in the
// page's document (no iframe), listens to pointer moves over that chart's plot area, turns the pixel into data
// coordinates with Plotly's own axes (p2l), finds the code there (decoder.js: the same inverse as a click on the
// server) and runs the model's decode graph, painting the 28x28 digit in its own panel beside the map.
// Python hears from it only once, when it starts or cannot (state "status": "live" or "off: <why>").
import { decode, el, loadMap, marks, oneLine, paint, ready, record } from "./decoder.js";

const instances = new WeakMap();
const active = new Set();

// One listener for the whole page, whatever the reruns do to the chart's element: a move is the hover's when it
// falls inside the chart this instance is beside.
function listen() {
  if (listen.done) return;
  listen.done = true;
  document.addEventListener("pointermove", (e) => {
    for (const h of [...active]) {
      if (!h.root.isConnected) active.delete(h);
      else h.pointer(e);
    }
  }, { passive: true, capture: true });
}

// The data coordinates of a pointer over a Plotly chart's plot area, or null outside it.
function dataPoint(gd, e) {
  const layout = gd._fullLayout, xa = layout?.xaxis, ya = layout?.yaxis;
  if (!xa?.p2l || !ya?.p2l) return null;
  const r = gd.getBoundingClientRect();
  const px = e.clientX - r.left - xa._offset, py = e.clientY - r.top - ya._offset;
  if (px < 0 || py < 0 || px > xa._length || py > ya._length) return null;
  return [xa.p2l(px), ya.p2l(py)];
}

class Hover {
  constructor(root) {
    this.canvas = el("canvas", { width: 168, height: 168, class: "ll-decoded", "data-testid": "ll-hover-digit",
                                 role: "img", "aria-label": "the digit decoded under the pointer" });
    this.caption = el("figcaption", {}, "Point at the map");
    this.root = el("div", { class: "ll-hover", "data-status": "idle", "data-updates": "0" },
      el("figure", {}, this.canvas, this.caption));
    root.append(this.root);
    this.pending = null;
    this.busy = false;
  }

  configure(component) {
    this.component = component;
    const { data } = component;
    const wanted = JSON.stringify([data?.model?.file, data?.map, data?.chart]);
    if (wanted === this.wanted) return;
    this.wanted = wanted;
    this.spec = data.model;
    this.chart = data.chart;
    this.start();
  }

  async start() {
    const token = (this.token = {});
    this.setStatus("loading");
    try {
      const [map] = await Promise.all([loadMap(this.component.data.map), ready(this.spec)]);
      if (token !== this.token) return;
      this.map = map;
      const { code, label } = map.at(map.coords[0], map.coords[1]);
      await decode(this.spec, code, label);  // the first run of a session is the slow one
      if (token !== this.token) return;
      marks.ready ??= performance.now();
      this.setStatus("live");
      listen();
      active.add(this);
    } catch (err) {
      if (token === this.token) this.setStatus(`off: ${oneLine(err)}`);
    }
  }

  setStatus(status) {
    this.status = status;
    this.root.dataset.status = status.split(":")[0];
    marks.status.hover = status;
    if (status !== "loading" && status !== this.reported) {
      this.reported = status;
      this.component.setStateValue("status", status);  // reruns the page: only a new answer is sent
    }
  }

  pointer(e) {
    const gd = e.target?.closest?.(".js-plotly-plot");
    if (!gd || !this.chartHas(gd)) return;
    const p = dataPoint(gd, e);
    if (!p) return;
    this.pending = { x: p[0], y: p[1], since: this.pending?.since ?? e.timeStamp };
    requestAnimationFrame(() => this.update());
  }

  // Is ``gd`` the chart this panel is beside? Streamlit gives the chart's element its key as a class.
  chartHas(gd) {
    return Boolean(gd.closest(`.${CSS.escape(this.chart)}`));
  }

  async update() {
    if (this.busy || !this.pending || this.status !== "live") return;
    this.busy = true;
    const { x, y, since } = this.pending;
    this.pending = null;
    try {
      const start = performance.now();
      const { code, label } = this.map.at(x, y);
      const digit = await decode(this.spec, code, label);
      const inferred = performance.now();
      paint(this.canvas, digit);
      this.caption.textContent = `decoded at (${x.toFixed(2)}, ${y.toFixed(2)})`;
      record("hover", { move: since, start, inferred, painted: performance.now() }, { x, y, label, digit });
      this.root.dataset.updates = String(Number(this.root.dataset.updates) + 1);
    } catch (err) {
      this.setStatus(`off: ${oneLine(err)}`);
    } finally {
      this.busy = false;
    }
    if (this.pending) requestAnimationFrame(() => this.update());
  }
}

export default function (component) {
  const { parentElement } = component;
  let hover = instances.get(parentElement);
  if (!hover) {
    hover = new Hover(parentElement);
    instances.set(parentElement, hover);
  }
  hover.configure(component);
}
