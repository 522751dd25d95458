// The component's pictures: elements, a stroke of the pen, a 28x28 digit blown up on a canvas.
import { SIZE } from "./preprocess.js";

export function el(tag, attrs = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
  e.append(...children);
  return e;
}

export function paintDigit(canvas, values) {
  const small = new OffscreenCanvas(SIZE, SIZE), sctx = small.getContext("2d");
  const img = sctx.createImageData(SIZE, SIZE);
  for (let i = 0; i < SIZE * SIZE; i++) {
    const v = Math.round(Math.min(1, Math.max(0, values[i])) * 255);
    img.data.set([v, v, v, 255], i * 4);
  }
  sctx.putImageData(img, 0, 0);
  const ctx = canvas.getContext("2d");
  ctx.imageSmoothingEnabled = false;
  ctx.drawImage(small, 0, 0, canvas.width, canvas.height);
}

export const figureOf = (recons, name) => [...recons.querySelectorAll("figure")].find((f) => f.dataset.model === name);

// One stroke (from its point ``from`` on: the new piece while the pen moves), white and round.
export function drawStroke(ctx, s, from = 0) {
  ctx.strokeStyle = "#fff";
  ctx.fillStyle = "#fff";
  ctx.lineWidth = s.width;
  ctx.lineCap = ctx.lineJoin = "round";
  const pts = s.points;
  if (pts.length === 1) {
    ctx.beginPath();
    ctx.arc(pts[0][0], pts[0][1], s.width / 2, 0, 2 * Math.PI);
    ctx.fill();
    return;
  }
  ctx.beginPath();
  ctx.moveTo(...pts[Math.max(0, from - 1)]);
  for (let i = Math.max(1, from); i < pts.length; i++) ctx.lineTo(...pts[i]);
  ctx.stroke();
}
