// The models in the browser: ONNX Runtime Web (wasm, one thread) loaded from this package's own files, never a
// CDN. The runtime and the sessions live in module scope, so they survive Streamlit's reruns and every
// canvas on the page shares them.
import { ORT_VERSION } from "./ort/version.js";

const here = import.meta.url;
// The smallest module that uses a SIMD instruction (v128.const): WebAssembly.validate says if SIMD is there.
const SIMD_PROBE = new Uint8Array([0, 97, 115, 109, 1, 0, 0, 0, 1, 5, 1, 96, 0, 1, 123, 3, 2, 1, 0, 10, 10, 1, 8,
  0, 65, 0, 253, 15, 253, 98, 11]);
const CACHE = "latent-lab-v1";

let runtime = null;
const sessions = new Map();

// The bytes at ``url`` (a .gz file is unpacked here: the server sends it as it is stored). Where the Cache API
// exists (https, localhost) a second visit reads it from there: the wasm runtime's URL carries its version and
// every other file's its content hash (?h=, ui/canvas.py), so a cached copy never goes stale; a new copy of a
// file replaces the older ones of the same path. Elsewhere (plain http on a LAN) a plain fetch.
export async function fetchBytes(url) {
  let cache = null;
  if (globalThis.isSecureContext && globalThis.caches) {
    try { cache = await caches.open(CACHE); } catch { cache = null; }
  }
  let response = cache ? await cache.match(url) : undefined;
  if (!response) {
    response = await fetch(url);
    if (!response.ok) throw new Error(`the server answered ${response.status} for ${new URL(url).pathname}`);
    if (cache) {
      try {
        await cache.put(url, response.clone());
        const path = new URL(url).pathname;
        for (const old of await cache.keys()) if (new URL(old.url).pathname === path && old.url !== url) cache.delete(old);
      } catch { /* a full or refused cache costs speed only */ }
    }
  }
  const body = new URL(url).pathname.endsWith(".gz")
    ? response.body.pipeThrough(new DecompressionStream("gzip")) : response.body;
  return new Uint8Array(await new Response(body).arrayBuffer());
}

// Why this browser cannot run the models, or null.
export function unsupported() {
  if (typeof WebAssembly !== "object") return "this browser has no WebAssembly";
  if (!WebAssembly.validate(SIMD_PROBE)) return "this browser's WebAssembly has no SIMD";
  if (typeof DecompressionStream !== "function") return "this browser cannot unpack gzip streams";
  return null;
}

export function ort() {
  runtime ??= (async () => {
    const why = unsupported();
    if (why) throw new Error(why);
    const ort = await import("./ort/ort.wasm.min.mjs");
    // No cross-origin isolation here, so one thread, on the page's own thread.
    ort.env.wasm.numThreads = 1;
    ort.env.wasm.proxy = false;
    ort.env.wasm.wasmPaths = { mjs: new URL("./ort/ort-wasm-simd-threaded.mjs", here).href };
    ort.env.wasm.wasmBinary = await fetchBytes(new URL(`./ort/ort-wasm-simd-threaded.wasm.gz?v=${ORT_VERSION}`, here).href);
    return ort;
  })();
  runtime.catch(() => { runtime = null; });  // a later mount may try again (e.g. after a network error)
  return runtime;
}

// An export served by the app: ``file`` is "<component>/<file name>" (see ui/canvas.py), a sibling of ours.
export function exportUrl(file) {
  return new URL(`../${file}`, here).href;
}

export function session(file) {
  if (!sessions.has(file)) {
    const made = (async () => {
      const rt = await ort();
      return rt.InferenceSession.create(await fetchBytes(exportUrl(file)), { executionProviders: ["wasm"] });
    })();
    made.catch(() => sessions.delete(file));
    sessions.set(file, made);
  }
  return sessions.get(file);
}

// Each model's answers for one 28x28 digit (Float32Array of 784), the classifier's first (a conditional model
// is told its guess): its reconstruction, and for the model named ``coded`` its code too (and a VAE's logvar).
// Runs one after another: a wasm session runs one call at a time.
export async function infer(digit, models, classifier, coded = null) {
  const rt = await ort();
  const image = new rt.Tensor("float32", digit, [1, 1, 28, 28]);
  let probabilities = null, guess = 0;
  if (classifier) {
    const out = await (await session(classifier.file)).run({ image }, ["probabilities"]);
    probabilities = out.probabilities.data;
    for (let i = 1; i < 10; i++) if (probabilities[i] > probabilities[guess]) guess = i;
  }
  const answers = [];
  for (const m of models) {
    const feeds = { image, code: new rt.Tensor("float32", new Float32Array(m.latent), [1, m.latent]) };
    if (m.conditional) feeds.label = new rt.Tensor("float32", Float32Array.of(guess), [1]);
    const wanted = m.name !== coded ? ["reconstruction"]
      : ["reconstruction", "latent", ...(m.posterior ? ["logvar"] : [])];
    const out = await (await session(m.file)).run(feeds, wanted);
    answers.push(Object.fromEntries(wanted.map((k) => [k, out[k].data])));
  }
  return { probabilities, guess, answers };
}
