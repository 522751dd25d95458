// The browser's copy of aecore/preprocess.py's canvas path (canvas_ink, then to_mnist), step for step, so the
// 28x28 digit the models see while the pen moves is the one the server makes from the same drawing.
// aecore.preprocess is the definition; tests/test_browser_live.py holds this copy to it in Chromium.
export const INK = 0.2, BOX = 20, SIZE = 28;

// canvas_ink: luminance times alpha, in [0, 1].
export function canvasInk(rgba, width, height) {
  const ink = new Float32Array(width * height);
  let max = 0;
  for (let i = 0; i < rgba.length; i++) if (rgba[i] > max) max = rgba[i];
  // In float32 one operation at a time, as numpy computes it: a full-ink pixel then gives the same
  // 0.99999994 (not 1), and so the same 8-bit crop below.
  const f = Math.fround, s = max > 1 ? 255 : 1, kr = f(0.299), kg = f(0.587), kb = f(0.114);
  for (let p = 0, i = 0; p < ink.length; p++, i += 4) {
    const lum = f(f(f(f(rgba[i] / s) * kr) + f(f(rgba[i + 1] / s) * kg)) + f(f(rgba[i + 2] / s) * kb));
    ink[p] = Math.min(1, Math.max(0, f(lum * f(rgba[i + 3] / s))));
  }
  return ink;
}

// Python's round(): halves to the even neighbour.
export function roundHalfEven(x) {
  const r = Math.round(x);
  return Math.abs(x % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

// Pillow's LANCZOS resampling of an 8-bit image (libImaging/Resample.c): coefficients per output pixel,
// fixed point with 22 fraction bits, a horizontal pass then a vertical one, each rounded to 8 bits.
const PRECISION_BITS = 22;

function lanczos(x) {
  const sinc = (v) => (v === 0 ? 1 : Math.sin(v * Math.PI) / (v * Math.PI));
  return x >= -3 && x < 3 ? sinc(x) * sinc(x / 3) : 0;
}

function coefficients(inSize, outSize) {
  const scale = inSize / outSize;
  const filterscale = Math.max(scale, 1);
  const support = 3 * filterscale;
  const rows = [];
  for (let xx = 0; xx < outSize; xx++) {
    const center = (xx + 0.5) * scale;
    const xmin = Math.max(Math.trunc(center - support + 0.5), 0);
    const xmax = Math.min(Math.trunc(center + support + 0.5), inSize) - xmin;
    const k = [];
    let ww = 0;
    for (let x = 0; x < xmax; x++) {
      const w = lanczos((x + xmin - center + 0.5) / filterscale);
      k.push(w);
      ww += w;
    }
    const fixed = k.map((w) => {
      const v = (ww !== 0 ? w / ww : w) * (1 << PRECISION_BITS);
      return Math.trunc(v < 0 ? v - 0.5 : v + 0.5);
    });
    rows.push({ xmin, k: fixed });
  }
  return rows;
}

const clip8 = (ss) => Math.min(255, Math.max(0, Math.floor(ss / (1 << PRECISION_BITS))));

function horizontal(img, w, h, nw) {
  const co = coefficients(w, nw), out = new Uint8Array(nw * h);
  for (let y = 0; y < h; y++) {
    for (let xx = 0; xx < nw; xx++) {
      const { xmin, k } = co[xx];
      let ss = 1 << (PRECISION_BITS - 1);
      for (let x = 0; x < k.length; x++) ss += img[y * w + x + xmin] * k[x];
      out[y * nw + xx] = clip8(ss);
    }
  }
  return out;
}

function vertical(img, w, h, nh) {
  const co = coefficients(h, nh), out = new Uint8Array(w * nh);
  for (let yy = 0; yy < nh; yy++) {
    const { xmin: ymin, k } = co[yy];
    for (let x = 0; x < w; x++) {
      let ss = 1 << (PRECISION_BITS - 1);
      for (let y = 0; y < k.length; y++) ss += img[(y + ymin) * w + x] * k[y];
      out[yy * w + x] = clip8(ss);
    }
  }
  return out;
}

export function resizeLanczos(src, w, h, nw, nh) {
  const needH = nw !== w, needV = nh !== h;
  // Pillow 13 makes the vertical pass first for a picture more than twice as tall as wide (found by
  // comparing both orders with it on 600 random shapes; the Chromium parity test guards it).
  if (needH && needV && 2 * w < h) return horizontal(vertical(src, w, h, nh), w, nh, nw);
  const img = needH ? horizontal(src, w, h, nw) : src;
  return needV ? vertical(img, nw, h, nh) : img;
}

// numpy's sum of a contiguous array: the first item, plus a pairwise sum of the rest (blocks of eight),
// each step rounded by ``round`` (Math.fround for float32). The centre of mass below divides two such sums;
// where it lands on a half pixel, only the same rounding rounds it the same way.
function pairwise(a, lo, n, round) {
  if (n < 8) {
    let res = 0;
    for (let i = 0; i < n; i++) res = round(res + a[lo + i]);
    return res;
  }
  if (n <= 128) {
    const r = [];
    for (let j = 0; j < 8; j++) r.push(a[lo + j]);
    let i = 8;
    for (; i < n - (n % 8); i += 8) for (let j = 0; j < 8; j++) r[j] = round(r[j] + a[lo + i + j]);
    let res = round(round(round(r[0] + r[1]) + round(r[2] + r[3])) + round(round(r[4] + r[5]) + round(r[6] + r[7])));
    for (; i < n; i++) res = round(res + a[lo + i]);
    return res;
  }
  let n2 = Math.floor(n / 2);
  n2 -= n2 % 8;
  return round(pairwise(a, lo, n2, round) + pairwise(a, lo + n2, n - n2, round));
}

const npSum = (a, round = (v) => v) => round(a[0] + pairwise(a, 1, a.length - 1, round));

// to_mnist (source "canvas"): null for an empty canvas or one covered in ink (the server says which).
export function toMnist(ink, width, height) {
  let nInk = 0, max = 0, r0 = height, r1 = -1, c0 = width, c1 = -1;
  for (let r = 0; r < height; r++) {
    for (let c = 0; c < width; c++) {
      const v = ink[r * width + c];
      if (v > max) max = v;
      if (v >= INK) {
        nInk++;
        if (r < r0) r0 = r;
        if (r > r1) r1 = r;
        if (c < c0) c0 = c;
        if (c > c1) c1 = c;
      }
    }
  }
  if (max < INK || nInk < Math.max(4, Math.floor(ink.length / 20000)) || nInk > 0.9 * ink.length) return null;
  r1 += 1; c1 += 1;
  const h = r1 - r0, w = c1 - c0;
  const crop = new Uint8Array(h * w);
  for (let r = 0; r < h; r++) {
    for (let c = 0; c < w; c++) crop[r * w + c] = Math.trunc(Math.fround(ink[(r + r0) * width + c + c0] * 255));
  }
  const scale = BOX / Math.max(h, w);
  const nh = Math.max(1, roundHalfEven(h * scale)), nw = Math.max(1, roundHalfEven(w * scale));
  const small = resizeLanczos(crop, w, h, nw, nh);
  const frame = new Float32Array(SIZE * SIZE);
  const top = Math.floor((SIZE - nh) / 2), left = Math.floor((SIZE - nw) / 2);
  for (let r = 0; r < nh; r++) {
    for (let c = 0; c < nw; c++) frame[(top + r) * SIZE + left + c] = Math.fround(small[r * nw + c] / 255);
  }
  const total = npSum(frame, Math.fround);  // float32, as numpy sums a float32 array
  if (total <= 0) return null;
  const byRow = new Float64Array(SIZE * SIZE), byCol = new Float64Array(SIZE * SIZE);
  for (let p = 0; p < frame.length; p++) {
    byRow[p] = frame[p] * Math.floor(p / SIZE);
    byCol[p] = frame[p] * (p % SIZE);
  }
  let dy = roundHalfEven((SIZE - 1) / 2 - npSum(byRow) / total);
  let dx = roundHalfEven((SIZE - 1) / 2 - npSum(byCol) / total);
  dy = Math.min(Math.max(dy, -top), SIZE - (top + nh));
  dx = Math.min(Math.max(dx, -left), SIZE - (left + nw));
  const out = new Float32Array(SIZE * SIZE);
  for (let r = 0; r < SIZE; r++) {
    const rs = r - dy;
    if (rs < 0 || rs >= SIZE) continue;
    for (let c = 0; c < SIZE; c++) {
      const cs = c - dx;
      if (cs >= 0 && cs < SIZE) out[r * SIZE + c] = Math.min(1, Math.max(0, frame[rs * SIZE + cs]));
    }
  }
  return out;
}

export function digitFromCanvas(rgba, width, height) {
  return toMnist(canvasInk(rgba, width, height), width, height);
}
