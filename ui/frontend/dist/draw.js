// Latent Lab's drawing canvas (a Streamlit Custom Components v2 component, see ui/canvas.py).
//
// Pointer events (mouse, touch, pen) draw white strokes on black; brush size, undo and clear are here too. When
// Python asks for it (data.live), every pen move turns the drawing into the 28x28 model input (preprocess.js, the
// copy of aecore.preprocess) and runs the chosen models and the reference classifier in the browser (live.js),
// painting the input, the guess, each reconstruction and, on one model's latent map (data.map, map.js), where
// the drawing lies (and a VAE's posterior). An update starts as soon as the pen moves and the previous one is
// done; the moves made meanwhile are coalesced into the next one.
// Python hears from it once per stroke, when the pen lifts (state "drawing": the canvas as a PNG data URL),
// and once when the browser models start or fail (state "status": "live" or "off: <why>").
//
// Timing marks for the tests and bench/bench_browser.py: window.__latentLab.updates holds, for every live
// update (performance.now() times): the oldest pointer move it shows, when it began, when the 28x28 input was
// made, when the models had answered, when its pictures were drawn and when the map was (mapped, with a map);
// window.__latentLab.map holds the latest place on the map.
import { digitFromCanvas, SIZE } from "./preprocess.js";
import { infer, session } from "./live.js";
import { loadMap, paintMap, place } from "./map.js";
import { drawStroke, el, figureOf, paintDigit } from "./pictures.js";

const instances = new WeakMap();
const SAMPLES_EVERY_MS = 100;
const marks = (globalThis.__latentLab ??= { updates: [], ready: null, status: null, guess: null, digit: null,
                                             map: null });
// A task that runs after the events already queued (the pen's moves among them), unclamped unlike setTimeout.
const soon = (() => {
  const channel = new MessageChannel(), queue = [];
  channel.port1.onmessage = () => queue.shift()?.();
  return (fn) => { queue.push(fn); channel.port2.postMessage(0); };
})();

class Pad {
  constructor(root, component) {
    this.component = component;
    this.strokes = [];
    this.current = null;
    this.pendingSince = null;  // time of the oldest pointer move not yet shown by a live update
    this.busy = false;
    this.models = [];
    this.classifier = null;
    this.live = false;
    this.status = null;
    const size = component.data?.size ?? 280;
    this.canvas = el("canvas", { width: size, height: size, class: "ll-canvas", "data-testid": "ll-canvas" });
    this.brush = el("input", { type: "range", min: 8, max: 40, value: component.data?.brush ?? 22,
                               "aria-label": "Brush size" });
    this.brushShown = el("span", {}, this.brush.value);
    const undo = el("button", { type: "button", class: "ll-undo" }, "Undo");
    const clear = el("button", { type: "button", class: "ll-clear" }, "Clear");
    this.input = el("canvas", { width: 84, height: 84, class: "ll-input" });
    this.guess = el("div", { class: "ll-guess" });
    this.recons = el("div", { class: "ll-recons" });
    this.mapCanvas = el("canvas", { width: 360, height: 210, class: "ll-map-canvas" });
    this.mapCaption = el("figcaption", {});
    this.mapFigure = el("figure", { class: "ll-map", hidden: "" }, this.mapCanvas, this.mapCaption);
    this.panel = el("div", { class: "ll-live", hidden: "" },
      el("figure", {}, this.input, el("figcaption", {}, "28×28 model input")), this.guess, this.recons,
      this.mapFigure);
    this.root = el("div", { class: "ll-draw", "data-status": "idle", "data-updates": "0" },
      this.canvas,
      el("div", { class: "ll-tools" }, el("label", {}, "Brush ", this.brush, " ", this.brushShown), undo, clear),
      this.panel);
    root.append(this.root);
    this.brush.addEventListener("input", () => { this.brushShown.textContent = this.brush.value; });
    undo.addEventListener("click", () => { this.strokes.pop(); this.changed(); });
    clear.addEventListener("click", () => { this.strokes = []; this.changed(); });
    this.listen();
    this.redraw();
  }

  listen() {
    const c = this.canvas;
    const at = (e) => {
      const r = c.getBoundingClientRect();
      return [(e.clientX - r.left) * (c.width / r.width), (e.clientY - r.top) * (c.height / r.height)];
    };
    c.addEventListener("pointerdown", (e) => {
      if (e.button !== 0) return;
      c.setPointerCapture(e.pointerId);
      this.current = { width: Number(this.brush.value), points: [at(e)] };
      this.strokes.push(this.current);
      this.moved(e.timeStamp);
    });
    // pointerrawupdate (Chromium, secure contexts) comes as soon as the input does; pointermove waits for the
    // next animation frame, half a frame on average: use the first where the browser has it.
    const raw = "onpointerrawupdate" in globalThis;
    c.addEventListener(raw ? "pointerrawupdate" : "pointermove", (e) => {
      if (!this.current) return;
      marks.moves = (marks.moves ?? 0) + 1;
      const points = e.getCoalescedEvents?.() ?? [];
      for (const p of points.length ? points : [e]) this.current.points.push(at(p));
      this.moved(e.timeStamp);
    });
    const up = () => {
      if (!this.current) return;
      this.current = null;
      this.changed();
    };
    c.addEventListener("pointerup", up);
    c.addEventListener("pointercancel", up);
  }

  // The pen moved: draw the new piece now, and update as soon as the previous update is done.
  moved(t) {
    this.redrawLast();
    this.pendingSince ??= t;
    this.kick();
  }

  kick() {
    if (!this.busy && !this.queued) {
      this.queued = true;
      soon(() => { this.queued = false; this.update(); });
    }
  }

  // A stroke ended, was undone or cleared: tell Python (the one message per stroke), and update.
  changed() {
    this.redraw();
    const empty = this.strokes.length === 0;
    this.component.setStateValue("drawing", empty ? null : this.canvas.toDataURL("image/png"));
    if (empty) this.panel.hidden = true;
    this.pendingSince ??= performance.now();
    this.kick();
  }

  redraw() {
    const ctx = this.canvas.getContext("2d", { willReadFrequently: true });
    ctx.fillStyle = "#000";
    ctx.fillRect(0, 0, this.canvas.width, this.canvas.height);
    for (const s of this.strokes) drawStroke(ctx, s);
    this.drawn = this.current ? this.current.points.length : 0;
  }

  redrawLast() {
    const s = this.current;
    if (!s) return;
    drawStroke(this.canvas.getContext("2d", { willReadFrequently: true }), s, this.drawn ?? 0);
    this.drawn = s.points.length;
  }

  configure(data) {
    const wanted = JSON.stringify([data?.models ?? [], data?.classifier ?? null, Boolean(data?.live),
                                   data?.map ?? null]);
    if (wanted === this.wanted) return;  // a rerun with the same data: nothing to reload
    this.wanted = wanted;
    this.models = data?.models ?? [];
    this.classifier = data?.classifier ?? null;
    this.mapSpec = data?.map ?? null;
    this.map = null;
    clearTimeout(this.samplesTimer);
    this.mapFigure.hidden = true;
    this.live = Boolean(data?.live) && (this.models.length > 0 || this.classifier);
    this.recons.replaceChildren(...this.models.map((m) => {
      const c = el("canvas", { width: 84, height: 84, class: "ll-recon" });
      const cap = el("figcaption", {}, m.name);
      return el("figure", { "data-model": m.name, class: "ll-waiting" }, c, cap);
    }));
    if (this.live) this.start();
  }

  // The runtime and the classifier first, then each model as its file arrives: the canvas is live as soon as
  // the first can answer (a cold visit downloads the small ones first), the others join when they are in.
  async start() {
    const token = (this.token = {});
    this.ready = new Set();
    this.setStatus("loading");
    try {
      if (this.classifier) await session(this.classifier.file);
      // One after another, smallest first: on a slow link the first model is not slowed by the others.
      const bySize = [...this.models].sort((a, b) => (a.bytes ?? 0) - (b.bytes ?? 0));
      let previous = Promise.resolve();
      const loads = bySize.map((m) => (previous = previous.catch(() => {}).then(() => session(m.file)).then(() => {
        if (token !== this.token) return;
        this.ready.add(m.file);
        figureOf(this.recons, m.name)?.classList.remove("ll-waiting");
        if (this.strokes.length) { this.pendingSince ??= performance.now(); this.kick(); }
      })));
      await (this.models.length ? Promise.any(loads) : infer(new Float32Array(SIZE * SIZE), [], this.classifier));
      if (token !== this.token) return;
      marks.ready ??= performance.now();
      this.setStatus("live");
      if (this.strokes.length) { this.pendingSince ??= performance.now(); this.kick(); }
      if (this.mapSpec) this.startMap(token);
      const failed = (await Promise.allSettled(loads)).filter((r) => r.status === "rejected");
      if (failed.length && token === this.token) throw failed[0].reason;
    } catch (err) {
      if (token !== this.token) return;
      this.live = false;
      this.panel.hidden = true;
      this.setStatus(`off: ${String(err?.errors?.[0]?.message ?? err?.message ?? err).split("\n")[0].slice(0, 200)}`);
    }
  }

  // The map after the models (it is not needed for the first stroke); without it the canvas stays live.
  async startMap(token) {
    try {
      const map = await loadMap(this.mapSpec);
      if (token !== this.token) return;
      this.map = map;
      this.samplesAt = -Infinity;
      this.mapCaption.textContent = `${map.model}: where the drawing lies among the test digits` +
        (map.posterior ? " (with the model's uncertainty)" : "");
      if (this.strokes.length) { this.pendingSince ??= performance.now(); this.kick(); }
    } catch (err) {
      console.warn("latent map unavailable:", err);
    }
  }

  setStatus(status) {
    this.root.dataset.status = status.split(":")[0];
    marks.status = status;
    this.status = status;
    // Each setStateValue reruns the page: only a new answer is sent.
    if (status !== "loading" && status !== this.reported) {
      this.reported = status;
      this.component.setStateValue("status", status);
    }
  }

  async update() {
    if (this.busy || this.pendingSince === null || this.status !== "live") return;
    this.busy = true;
    const since = this.pendingSince;
    this.pendingSince = null;
    try {
      const start = performance.now();
      const { width, height } = this.canvas;
      const rgba = this.canvas.getContext("2d", { willReadFrequently: true }).getImageData(0, 0, width, height).data;
      const digit = digitFromCanvas(rgba, width, height);
      const prepared = performance.now();
      const { inferred, coded } = digit ? await this.paint(digit) : { inferred: prepared };
      const painted = performance.now();
      if (!digit) this.panel.hidden = true;
      const mapped = coded ? this.paintMap(coded) : undefined;
      marks.updates.push({ move: since, start, prepared, inferred, painted, mapped, shown: Boolean(digit) });
      if (marks.updates.length > 10000) marks.updates.splice(0, 5000);
      this.root.dataset.updates = String(Number(this.root.dataset.updates) + 1);
    } catch (err) {
      this.live = false;
      this.setStatus(`off: ${String(err?.message ?? err).split("\n")[0].slice(0, 200)}`);
    } finally {
      this.busy = false;
    }
    if (this.pendingSince !== null) this.kick();
  }

  // The posterior's samples cost one neighbour search each (40 of them, ~10 ms): placed afresh at most every
  // SAMPLES_EVERY_MS, carried along with the star in between, and placed once more when the pen rests.
  paintMap({ latent, logvar }) {
    const now = performance.now(), fresh = now - this.samplesAt >= SAMPLES_EVERY_MS;
    const placed = place(this.map, latent, logvar, fresh);
    clearTimeout(this.samplesTimer);
    if (placed.samples) {
      this.samplesAt = now;
      this.lastSamples = placed;
    } else if (logvar && this.map.posterior === "samples") {
      const [dx, dy] = [0, 1].map((i) => placed.where[i] - this.lastSamples.where[i]);
      placed.samples = this.lastSamples.samples.map(([x, y]) => [x + dx, y + dy]);
      this.samplesTimer = setTimeout(() => this.map && this.paintMap({ latent, logvar }), SAMPLES_EVERY_MS);
    }
    paintMap(this.mapCanvas, this.map, placed);
    this.mapFigure.hidden = false;
    marks.map = { model: this.map.model, ...placed };
    return performance.now();
  }

  async paint(digit) {
    const ready = this.models.filter((m) => this.ready.has(m.file));
    const coded = this.map && ready.some((m) => m.name === this.map.model) ? this.map.model : null;
    const { probabilities, guess, answers } = await infer(digit, ready, this.classifier, coded);
    const inferred = performance.now();
    paintDigit(this.input, digit);
    if (probabilities) {
      this.guess.textContent = `Reference classifier: ${guess} (${Math.round(probabilities[guess] * 100)}% sure)`;
      this.guess.dataset.guess = String(guess);
      marks.guess = guess;
    }
    marks.digit = digit;
    answers.forEach(({ reconstruction: r }, i) => {
      let se = 0;
      for (let j = 0; j < r.length; j++) se += (r[j] - digit[j]) ** 2;
      const figure = figureOf(this.recons, ready[i].name);
      paintDigit(figure.querySelector("canvas"), r);
      figure.querySelector("figcaption").textContent = `${ready[i].name}: MSE ${(se / r.length).toFixed(4)}`;
    });
    this.panel.hidden = false;
    return { inferred, coded: coded ? answers[ready.findIndex((m) => m.name === coded)] : null };
  }
}

export default function (component) {
  const { parentElement, data } = component;
  let pad = instances.get(parentElement);
  if (!pad) {
    pad = new Pad(parentElement, component);
    instances.set(parentElement, pad);
  }
  pad.component = component;  // the newest callbacks: the entry runs again whenever Python's data changes
  pad.configure(data);
}
