// The drawing's place on a model's latent map, moved on every live update: the browser's copy of
// aecore.projection.locate (the distance-weighted mean of the map positions of the k nearest test codes) and of
// posterior_on_map (a VAE's q(z|x): samples placed the same way, or for a 2-D code the 2σ ellipse), over the map
// file aecore.browser_map packs (its layout is described there).
import { exportUrl, fetchBytes } from "./live.js";

function half(h) {  // IEEE float16 -> number
  const sign = h & 0x8000 ? -1 : 1, e = (h >> 10) & 0x1f, f = h & 0x3ff;
  if (e === 0) return sign * f * 2 ** -24;
  if (e === 31) return f ? NaN : sign * Infinity;
  return sign * (1 + f / 1024) * 2 ** (e - 15);
}

// The parts of a map's file (its layout is described in aecore.browser_map): the header's fields plus coords,
// codes (float32), noise, labels (or null) and the picture's bytes.
export function readMap(bytes) {
  const size = new DataView(bytes.buffer, bytes.byteOffset).getUint32(0, true);
  const head = JSON.parse(new TextDecoder().decode(bytes.subarray(4, 4 + size)));
  const { n, dim, samples } = head;
  if (head.version !== 2) throw new Error("the map's file is not one this page can read");
  let at = 4 + size;
  const take = (Type, count, width) => {
    const out = new Type(bytes.buffer.slice(bytes.byteOffset + at, bytes.byteOffset + at + count * width));
    at += count * width;
    return out;
  };
  const coords = take(Float32Array, n * 2, 4);
  const raw = take(Uint16Array, n * dim, 2);
  at += (4 - (at % 4)) % 4;
  const noise = take(Float32Array, samples * dim, 4);
  const labels = head.labels ? take(Uint8Array, n, 1) : null;
  const codes = new Float32Array(n * dim);
  for (let i = 0; i < n * dim; i++) codes[i] = half(raw[i]);
  return { ...head, coords, codes, noise, labels, png: bytes.subarray(at, at + head.png) };
}

export async function loadMap(spec) {
  const { png, ...map } = readMap(await fetchBytes(exportUrl(spec.file)));
  const picture = await createImageBitmap(new Blob([png], { type: "image/png" }));
  const { n, dim, codes } = map, sq = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    let s = 0;
    for (let d = 0; d < dim; d++) s += codes[i * dim + d] ** 2;
    sq[i] = s;
  }
  return { ...map, ...spec, sq, picture };
}

// Where the code ``q`` (dim values from ``offset`` in q) lies on the map: [x, y].
export function locate(map, q, offset = 0) {
  const { n, dim, codes, sq, coords } = map, k = Math.min(map.k, n);
  const best = new Float64Array(k).fill(Infinity), at = new Int32Array(k).fill(-1);
  let qq = 0;
  for (let d = 0; d < dim; d++) qq += q[offset + d] ** 2;
  for (let i = 0; i < n; i++) {
    let dot = 0;
    const row = i * dim;
    for (let d = 0; d < dim; d++) dot += q[offset + d] * codes[row + d];
    const score = sq[i] - 2 * dot;
    if (score >= best[k - 1]) continue;
    let j = k - 1;  // insert into the sorted k best
    while (j > 0 && best[j - 1] > score) { best[j] = best[j - 1]; at[j] = at[j - 1]; j--; }
    best[j] = score;
    at[j] = i;
  }
  let x = 0, y = 0, total = 0;
  for (let j = 0; j < k; j++) {
    const w = 1 / (Math.sqrt(Math.max(0, best[j] + qq)) + 1e-6);
    x += w * coords[2 * at[j]];
    y += w * coords[2 * at[j] + 1];
    total += w;
  }
  return [x / total, y / total];
}

// The star and, for a VAE (``logvar`` given), its posterior: {where, samples?, ellipse?}. Without ``withSamples``
// the posterior's samples (one neighbour search each) are left out.
export function place(map, latent, logvar, withSamples = true) {
  const out = { where: locate(map, latent) };
  if (!logvar || !map.posterior || (map.posterior === "samples" && !withSamples)) return out;
  const std = Array.from(logvar, (v) => Math.exp(0.5 * v));
  if (map.posterior === "ellipse") {
    out.ellipse = { centre: [latent[0], latent[1]], radii: [2 * std[0], 2 * std[1]] };
    return out;
  }
  const z = new Float32Array(map.samples * map.dim);
  for (let s = 0; s < map.samples; s++) {
    for (let d = 0; d < map.dim; d++) z[s * map.dim + d] = latent[d] + std[d] * map.noise[s * map.dim + d];
  }
  out.samples = Array.from({ length: map.samples }, (_, s) => locate(map, z, s * map.dim));
  return out;
}

function star(ctx, x, y, r) {
  ctx.beginPath();
  for (let i = 0; i < 10; i++) {
    const a = -Math.PI / 2 + (i * Math.PI) / 5, rr = i % 2 ? r * 0.45 : r;
    ctx.lineTo(x + rr * Math.cos(a), y + rr * Math.sin(a));
  }
  ctx.closePath();
  ctx.fillStyle = "red";
  ctx.strokeStyle = "white";
  ctx.lineWidth = 2;
  ctx.fill();
  ctx.stroke();
}

// The map picture with the drawing's place on it, as the server's figures.marker_map draws it.
export function paintMap(canvas, map, placed) {
  const ctx = canvas.getContext("2d"), { width, height } = canvas;
  const [x0, x1] = map.xr, [y0, y1] = map.yr;
  const px = ([x, y]) => [((x - x0) / (x1 - x0)) * width, ((y1 - y) / (y1 - y0)) * height];
  ctx.fillStyle = "#fff";
  ctx.fillRect(0, 0, width, height);
  ctx.drawImage(map.picture, 0, 0, width, height);
  if (placed.ellipse) {
    const [cx, cy] = px(placed.ellipse.centre);
    const rx = (placed.ellipse.radii[0] / (x1 - x0)) * width, ry = (placed.ellipse.radii[1] / (y1 - y0)) * height;
    ctx.beginPath();
    ctx.ellipse(cx, cy, rx, ry, 0, 0, 2 * Math.PI);
    ctx.fillStyle = "rgba(220,0,0,0.12)";
    ctx.strokeStyle = "red";
    ctx.lineWidth = 2;
    ctx.fill();
    ctx.stroke();
  }
  for (const p of placed.samples ?? []) {
    const [x, y] = px(p);
    ctx.beginPath();
    ctx.arc(x, y, 3, 0, 2 * Math.PI);
    ctx.fillStyle = "rgba(0,0,0,0.6)";
    ctx.strokeStyle = "white";
    ctx.lineWidth = 0.5;
    ctx.fill();
    ctx.stroke();
  }
  star(ctx, ...px(placed.where), 9);
}
