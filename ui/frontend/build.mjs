// Build the component's served files into dist/ (committed, so `./run.sh app` needs no npm):
//   src/*            -> dist/            the component (plain ES modules, no bundler)
//   onnxruntime-web  -> dist/ort/        its wasm CPU runtime only: the loader, the emscripten glue, and the
//                                        .wasm gzipped (the server sends .gz files as they are, at no CPU cost;
//                                        the browser unpacks them), with its licence and version.
import { readFileSync, writeFileSync, mkdirSync, rmSync, readdirSync, copyFileSync } from "node:fs";
import { gzipSync } from "node:zlib";

const ort = "node_modules/onnxruntime-web";
const { version } = JSON.parse(readFileSync(`${ort}/package.json`, "utf8"));
rmSync("dist", { recursive: true, force: true });
mkdirSync("dist/ort", { recursive: true });
for (const f of readdirSync("src")) copyFileSync(`src/${f}`, `dist/${f}`);
copyFileSync(`${ort}/dist/ort.wasm.min.mjs`, "dist/ort/ort.wasm.min.mjs");
copyFileSync(`${ort}/dist/ort-wasm-simd-threaded.mjs`, "dist/ort/ort-wasm-simd-threaded.mjs");
// mtime 0 and no name in the header: the same input always gives the same bytes (a clean git diff).
const wasm = readFileSync(`${ort}/dist/ort-wasm-simd-threaded.wasm`);
writeFileSync("dist/ort/ort-wasm-simd-threaded.wasm.gz", gzipSync(wasm, { level: 9 }));
writeFileSync("dist/ort/version.js", `export const ORT_VERSION = ${JSON.stringify(version)};\n`);
writeFileSync("dist/ort/LICENSE", `ONNX Runtime Web ${version} (npm onnxruntime-web), https://github.com/microsoft/onnxruntime

MIT License

Copyright (c) Microsoft Corporation

Permission is hereby granted, free of charge, to any person obtaining a copy
of this software and associated documentation files (the "Software"), to deal
in the Software without restriction, including without limitation the rights
to use, copy, modify, merge, publish, distribute, sublicense, and/or sell
copies of the Software, and to permit persons to whom the Software is
furnished to do so, subject to the following conditions:

The above copyright notice and this permission notice shall be included in all
copies or substantial portions of the Software.

THE SOFTWARE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND, EXPRESS OR
IMPLIED, INCLUDING BUT NOT LIMITED TO THE WARRANTIES OF MERCHANTABILITY,
FITNESS FOR A PARTICULAR PURPOSE AND NONINFRINGEMENT. IN NO EVENT SHALL THE
AUTHORS OR COPYRIGHT HOLDERS BE LIABLE FOR ANY CLAIM, DAMAGES OR OTHER
LIABILITY, WHETHER IN AN ACTION OF CONTRACT, TORT OR OTHERWISE, ARISING FROM,
OUT OF OR IN CONNECTION WITH THE SOFTWARE OR THE USE OR OTHER DEALINGS IN THE
SOFTWARE.
`);
console.log(`dist/ built with onnxruntime-web ${version} (wasm ${(wasm.length / 1e6).toFixed(1)} MB, ` +
            `gzipped ${(readFileSync("dist/ort/ort-wasm-simd-threaded.wasm.gz").length / 1e6).toFixed(1)} MB)`);
