// Live sliders for the Generate page (a Streamlit Custom Components v2 component, see ui/live_views.py): its own
// range inputs, a position along the path between two codes ("path") or one value per code dimension
// ("latent"); every animation frame in which one moved, the code is decoded in the browser and painted beside
// them. Python hears the values only when the pointer lets go ('change': state "value"), and once whether the
// browser can decode (state "status"); where it cannot, the inputs stay and the server decodes what is let go.
import { decode, el, marks, oneLine, paint, ready, record } from "./decoder.js";

const instances = new WeakMap();

// aecore.generate.lerp / slerp at one position t (slerp falls back to linear for (nearly) parallel codes).
export function onPath(z0, z1, t, mode) {
  const d = z0.length, out = new Float32Array(d);
  let na = 0, nb = 0, dot = 0;
  for (let j = 0; j < d; j++) { na += z0[j] ** 2; nb += z1[j] ** 2; dot += z0[j] * z1[j]; }
  na = Math.sqrt(na); nb = Math.sqrt(nb);
  const omega = mode === "slerp" && na >= 1e-8 && nb >= 1e-8 ? Math.acos(Math.min(1, Math.max(-1, dot / (na * nb)))) : 0;
  if (Math.abs(omega) < 1e-4) {
    for (let j = 0; j < d; j++) out[j] = (1 - t) * z0[j] + t * z1[j];
  } else {
    const so = Math.sin(omega), a = Math.sin((1 - t) * omega) / so, b = Math.sin(t * omega) / so;
    for (let j = 0; j < d; j++) out[j] = a * z0[j] + b * z1[j];
  }
  return out;
}

function slider(label, min, max, step, value) {
  const input = el("input", { type: "range", min, max, step, value, "aria-label": label });
  const shown = el("span", { class: "ll-value" }, Number(value).toFixed(2));
  input.addEventListener("input", () => { shown.textContent = Number(input.value).toFixed(2); });
  return { input, row: el("label", { class: "ll-slider" }, el("span", {}, label), input, shown) };
}

class Sliders {
  constructor(root) {
    this.canvas = el("canvas", { width: 140, height: 140, class: "ll-decoded", "data-testid": "ll-slider-digit",
                                 role: "img", "aria-label": "the digit these values decode to" });
    this.controls = el("div", { class: "ll-controls" });
    this.figure = el("figure", {}, this.canvas);
    this.root = el("div", { class: "ll-sliders", "data-status": "idle", "data-updates": "0" }, this.controls,
                   this.figure);
    root.append(this.root);
    this.pending = null;
    this.busy = false;
  }

  configure(component) {
    this.component = component;
    const data = component.data ?? {};
    // the value Python last heard only seeds new inputs: a rerun after a release must not rebuild them
    const wanted = JSON.stringify({ ...data, model: data.model?.file, value: undefined });
    if (wanted === this.wanted) return;
    this.wanted = wanted;
    this.data = data;
    this.spec = data.model;
    const value = data.value ?? null;
    if (data.kind === "path") {
      const s = slider("Position along the path", 0, 1, 0.01, value?.t ?? 0.5);
      this.inputs = [s.input];
      this.controls.replaceChildren(s.row);
    } else {
      const s = data.dims.map((d, i) => slider(data.names?.[i] ?? `dim ${d}`, -data.span, data.span, 0.05,
                                               value?.values?.[i] ?? 0));
      this.inputs = s.map((x) => x.input);
      this.controls.replaceChildren(...s.map((x) => x.row));
    }
    for (const input of this.inputs) {
      input.addEventListener("input", (e) => this.moved(e.timeStamp));
      input.addEventListener("change", () => this.component.setStateValue("value", this.value()));
    }
    if (this.spec) this.start();
    else this.setStatus("off: this model cannot be prepared for the browser here");
  }

  value() {
    const v = this.inputs.map((i) => Number(i.value));
    return this.data.kind === "path" ? { t: v[0] } : { values: v };
  }

  // { code, label } of the inputs' values: what live_views.code_on_path / code_of_sliders make on the server.
  code() {
    const data = this.data, v = this.value();
    if (data.kind === "path") {
      return { code: onPath(data.z0, data.z1, v.t, data.mode), label: v.t < 0.5 ? data.labels[0] : data.labels[1] };
    }
    const code = new Float32Array(data.latent);
    data.dims.forEach((d, i) => { code[d] = v.values[i]; });
    return { code, label: data.label };
  }

  async start() {
    const token = (this.token = {});
    this.setStatus("loading");
    try {
      await ready(this.spec);
      if (token !== this.token) return;
      this.setStatus("live");
      this.moved(performance.now());
    } catch (err) {
      if (token === this.token) this.setStatus(`off: ${oneLine(err)}`);
    }
  }

  setStatus(status) {
    this.status = status;
    this.root.dataset.status = status.split(":")[0];
    marks.status.slide = status;
    if (status !== "loading" && status !== this.reported) {
      this.reported = status;
      this.component.setStateValue("status", status);
    }
  }

  moved(t) {
    this.pending ??= t;
    requestAnimationFrame(() => this.update());
  }

  async update() {
    if (this.busy || this.pending === null || this.status !== "live") return;
    this.busy = true;
    const since = this.pending;
    this.pending = null;
    try {
      const start = performance.now();
      const { code, label } = this.code();
      const digit = await decode(this.spec, code, label);
      const inferred = performance.now();
      paint(this.canvas, digit);
      record("slide", { move: since, start, inferred, painted: performance.now() },
             { value: this.value(), code: Array.from(code), label, digit });
      this.root.dataset.updates = String(Number(this.root.dataset.updates) + 1);
    } catch (err) {
      this.setStatus(`off: ${oneLine(err)}`);
    } finally {
      this.busy = false;
    }
    if (this.pending !== null) requestAnimationFrame(() => this.update());
  }
}

export default function (component) {
  const { parentElement } = component;
  let sliders = instances.get(parentElement);
  if (!sliders) {
    sliders = new Sliders(parentElement);
    instances.set(parentElement, sliders);
  }
  sliders.configure(component);
}
