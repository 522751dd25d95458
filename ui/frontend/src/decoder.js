// Decoding codes in the browser, for the map's hover (latent.js) and the Generate page's sliders (generate.js);
// see ui/live_views.py. The runtime and the sessions are the drawing canvas's (live.js, imported from its own
// served folder, so the page holds one runtime whichever component loads it first).
import { exportUrl, fetchBytes, ort, session } from "../latent-lab.draw/live.js";
import { readMap } from "../latent-lab.draw/map.js";

export const SIZE = 28;
// Timing marks for the tests and bench/bench_hover.py: every update (performance.now() times) of the hover
// ("hover") and of the sliders ("slide"): the oldest pointer move it shows, when it began, when the model had
// answered and when the digit was painted; and the last code decoded with its digit, per kind.
export const marks = (globalThis.__latentViews ??= { hover: [], slide: [], last: {}, status: {} });

export function record(kind, update, detail) {
  const list = marks[kind];
  list.push(update);
  if (list.length > 10000) list.splice(0, 5000);
  marks.last[kind] = detail;
}

export function el(tag, attrs = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
  e.append(...children);
  return e;
}

export function paint(canvas, values) {
  const small = new OffscreenCanvas(SIZE, SIZE), sctx = small.getContext("2d");
  const img = sctx.createImageData(SIZE, SIZE);
  for (let i = 0; i < SIZE * SIZE; i++) {
    const v = Math.round(Math.min(1, Math.max(0, values[i])) * 255);
    img.data[4 * i] = img.data[4 * i + 1] = img.data[4 * i + 2] = v;
    img.data[4 * i + 3] = 255;
  }
  sctx.putImageData(img, 0, 0);
  const ctx = canvas.getContext("2d");
  ctx.imageSmoothingEnabled = false;
  ctx.drawImage(small, 0, 0, canvas.width, canvas.height);
}

export const oneLine = (err) => String(err?.message ?? err).split("\n")[0].slice(0, 200);

const blank = new Float32Array(SIZE * SIZE);

// The model's "decoded" output for one code (Float32Array of its latent size); ``label`` for a conditional model.
export async function decode(spec, code, label) {
  const rt = await ort();
  const feeds = { image: new rt.Tensor("float32", blank, [1, 1, SIZE, SIZE]),
                  code: new rt.Tensor("float32", code, [1, spec.latent]) };
  if (spec.conditional) feeds.label = new rt.Tensor("float32", Float32Array.of(label ?? 0), [1]);
  const out = await (await session(spec.file)).run(feeds, ["decoded"]);
  return out.decoded.data;
}

export const ready = (spec) => session(spec.file);

// A map's binary file (aecore.browser_map): its points, codes and labels, and the code at any place of it.
const maps = new Map();

export function loadMap(file) {
  if (!maps.has(file)) {
    const made = fetchBytes(exportUrl(file)).then(parseMap);
    made.catch(() => maps.delete(file));
    maps.set(file, made);
  }
  return maps.get(file);
}

function parseMap(bytes) {
  const { n, dim, coords, codes, labels } = readMap(bytes);
  return new LatentMap(n, dim, coords, codes, labels ?? new Uint8Array(n));
}

// The inverse of aecore.projection.code_at, on the same data: where the map is linear in the codes (PCA, a 2-D
// code) its exact inverse, found by least squares from the map itself; else the inverse-distance-weighted mean
// of the codes of the k points mapped nearest (UMAP, t-SNE).
export class LatentMap {
  constructor(n, d, coords, codes, labels, k = 10) {
    Object.assign(this, { n, d, coords, codes, labels, k: Math.min(k, n) });
    const cx = [0, 0], cz = new Float64Array(d);
    for (let i = 0; i < n; i++) {
      cx[0] += coords[2 * i]; cx[1] += coords[2 * i + 1];
      for (let j = 0; j < d; j++) cz[j] += codes[i * d + j];
    }
    cx[0] /= n; cx[1] /= n;
    for (let j = 0; j < d; j++) cz[j] /= n;
    // basis (2, d) = (XᵀX)⁻¹ XᵀZ with X, Z the centred points and codes
    let a = 0, b = 0, c = 0;
    const xz = [new Float64Array(d), new Float64Array(d)];
    for (let i = 0; i < n; i++) {
      const x = coords[2 * i] - cx[0], y = coords[2 * i + 1] - cx[1];
      a += x * x; b += x * y; c += y * y;
      for (let j = 0; j < d; j++) {
        const z = codes[i * d + j] - cz[j];
        xz[0][j] += x * z; xz[1][j] += y * z;
      }
    }
    const det = a * c - b * b;
    const basis = [new Float64Array(d), new Float64Array(d)];
    for (let j = 0; j < d; j++) {
      basis[0][j] = (c * xz[0][j] - b * xz[1][j]) / det;
      basis[1][j] = (a * xz[1][j] - b * xz[0][j]) / det;
    }
    // linear when projecting the codes with that basis gives the map back (within 1%)
    let err = 0, norm = 0;
    for (let i = 0; i < n; i++) {
      let p = 0, q = 0;
      for (let j = 0; j < d; j++) {
        const z = codes[i * d + j] - cz[j];
        p += z * basis[0][j]; q += z * basis[1][j];
      }
      const x = coords[2 * i] - cx[0], y = coords[2 * i + 1] - cx[1];
      err += (p - x) ** 2 + (q - y) ** 2; norm += x * x + y * y;
    }
    this.linear = Number.isFinite(det) && det > 0 && Math.sqrt(err / norm) < 0.01;
    Object.assign(this, { cx, cz, basis });
    this.nearest = new Int32Array(this.k);
    this.dist = new Float64Array(this.k);
  }

  // The k nearest points to (x, y) in this.nearest, their squared distances in this.dist (closest first).
  findNearest(x, y) {
    const { k, nearest, dist, coords } = this;
    let filled = 0;
    for (let i = 0; i < this.n; i++) {
      const dx = coords[2 * i] - x, dy = coords[2 * i + 1] - y, s = dx * dx + dy * dy;
      if (filled === k && s >= dist[k - 1]) continue;
      let at = filled < k ? filled++ : k - 1;
      while (at > 0 && dist[at - 1] > s) { dist[at] = dist[at - 1]; nearest[at] = nearest[at - 1]; at--; }
      dist[at] = s; nearest[at] = i;
    }
  }

  // { code: Float32Array(d), label: the nearest point's label (a conditional model is told it) }
  at(x, y) {
    const { d, codes, k } = this;
    const code = new Float32Array(d);
    this.findNearest(x, y);
    if (this.linear) {
      const px = x - this.cx[0], py = y - this.cx[1];
      for (let j = 0; j < d; j++) code[j] = px * this.basis[0][j] + py * this.basis[1][j] + this.cz[j];
    } else {
      let total = 0;
      const sum = new Float64Array(d);
      for (let r = 0; r < k; r++) {
        const w = 1 / (Math.sqrt(this.dist[r]) + 1e-6), i = this.nearest[r];
        total += w;
        for (let j = 0; j < d; j++) sum[j] += w * codes[i * d + j];
      }
      for (let j = 0; j < d; j++) code[j] = sum[j] / total;
    }
    return { code, label: this.labels[this.nearest[0]] };
  }
}
