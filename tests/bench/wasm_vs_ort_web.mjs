// `make bench`, second half: the wasm build of Veilwatch against onnxruntime-web (wasm backend,
// one thread) on identical inputs, in the same node process. The inputs are the frames and the
// aligned crop `veilwatch bench --frames-out DIR` wrote (a real LFW photo on 320×240 and 640×480
// canvases). onnxruntime cannot run the shipped int8bq files, so it gets the same weights folded
// to f32 by tests/reference/onnxruntime_reference.py, which is what tract runs too.
//
// Veilwatch's time is the whole engine call (pre-processing, inference, decoding, NMS);
// onnxruntime-web's is session.run alone on a prepared tensor. Medians go to bench.json under "wasm"
// (the SIMD128 build) or "wasm_relaxed_simd" (VEILWATCH_WASM_VARIANT=relaxed-simd).

import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { performance } from 'node:perf_hooks';

import * as ort from 'onnxruntime-web';

const repo = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const framesDir = process.argv[2];
const runs = Number(process.env.BENCH_RUNS ?? 30);
if (!framesDir) throw new Error('usage: node tests/bench/wasm_vs_ort_web.mjs FRAMES_DIR (from veilwatch bench --frames-out)');

// Which engine build: `simd128` (pkg-bench/veilwatch_bg.wasm, every browser) or `relaxed-simd`
// (pkg-bench/veilwatch_relaxed_bg.wasm; node 20 needs --experimental-wasm-relaxed-simd for it).
const variant = process.env.VEILWATCH_WASM_VARIANT ?? 'simd128';
const variants = {
  simd128: { file: 'veilwatch_bg.wasm', key: 'wasm' },
  'relaxed-simd': { file: 'veilwatch_relaxed_bg.wasm', key: 'wasm_relaxed_simd' },
};
if (!variants[variant]) throw new Error(`VEILWATCH_WASM_VARIANT must be one of ${Object.keys(variants).join(', ')}`);
const { initSync, Engine, BlindBench } = await import(join(repo, 'pkg-bench/veilwatch.js'));
initSync({ module: readFileSync(join(repo, 'pkg-bench', variants[variant].file)) });
const models = join(repo, 'models');
const engine = new Engine(
  readFileSync(join(models, 'face_detection_yunet_2023mar_int8bq.onnx')),
  readFileSync(join(models, 'face_recognition_sface_2021dec_int8bq.onnx')),
);

const folded = join(framesDir, 'folded');
if (!existsSync(join(folded, 'face_recognition_sface_2021dec_folded.onnx'))) {
  mkdirSync(folded, { recursive: true });
  execFileSync('python3', [join(repo, 'tests/reference/onnxruntime_reference.py'), '--models', models, '--write-folded', folded], { stdio: 'inherit' });
}
ort.env.wasm.numThreads = 1;
const ortDetector = await ort.InferenceSession.create(join(folded, 'face_detection_yunet_2023mar_folded.onnx'), { executionProviders: ['wasm'] });
const ortRecognizer = await ort.InferenceSession.create(join(folded, 'face_recognition_sface_2021dec_folded.onnx'), { executionProviders: ['wasm'] });

// The two engines run alternately, run by run, so that drift in the machine's speed (this is often
// a shared VM) falls on both alike; the ratio is the median of the per-pair ratios.
async function pairedMedians(ours, theirs) {
  for (let i = 0; i < 3; i++) { await ours(); await theirs(); }
  const [a, b, ratios] = [[], [], []];
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    await ours();
    const t1 = performance.now();
    await theirs();
    const t2 = performance.now();
    a.push(t1 - t0);
    b.push(t2 - t1);
    ratios.push((t1 - t0) / (t2 - t1));
  }
  const median = (xs) => xs.sort((x, y) => x - y)[Math.floor(xs.length / 2)];
  return { veilwatch_ms: median(a), ort_web_ms: median(b), ratio: median(ratios) };
}

// YuNet input: BGR planes, 0–255, padded right/bottom to multiples of 32.
function detectorTensor(rgba, width, height) {
  const [w, h] = [Math.ceil(width / 32) * 32, Math.ceil(height / 32) * 32];
  const data = new Float32Array(3 * w * h);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const i = (y * width + x) * 4;
      data[y * w + x] = rgba[i + 2];
      data[w * h + y * w + x] = rgba[i + 1];
      data[2 * w * h + y * w + x] = rgba[i];
    }
  }
  return new ort.Tensor('float32', data, [1, 3, h, w]);
}

const results = {};
for (const [key, width, height] of [['detect_320x240', 320, 240], ['detect_640x480', 640, 480]]) {
  const rgba = new Uint8Array(readFileSync(join(framesDir, `${key}.rgba`)));
  if (engine.detect(rgba, width, height).length === 0) throw new Error(`${key}: the benchmark frame shows no face`);
  const tensor = detectorTensor(rgba, width, height);
  results[key] = await pairedMedians(
    () => engine.detect(rgba, width, height),
    () => ortDetector.run({ [ortDetector.inputNames[0]]: tensor }),
  );
}
const crop = new Uint8Array(readFileSync(join(framesDir, 'embed_112x112.rgb')));
const planes = new Float32Array(3 * 112 * 112);
for (let i = 0; i < 112 * 112; i++) for (let c = 0; c < 3; c++) planes[c * 112 * 112 + i] = crop[i * 3 + c];
const cropTensor = new ort.Tensor('float32', planes, [1, 3, 112, 112]);
results.embed = await pairedMedians(
  () => engine.benchmarkEmbedding(crop),
  () => ortRecognizer.run({ [ortRecognizer.inputNames[0]]: cropTensor }),
);

// The device's cost per face under authority custody at L = 1024: VOPRF (blind, then verify the
// batched proof and unblind) against plain OPRF mode (blind, unblind), alternating run by run; the
// authority's answer is computed in between, in process, and not timed.
const TABLES = 1024;
function deviceMs(blind, answer, finish) {
  const t0 = performance.now();
  blind();
  const t1 = performance.now();
  answer();
  const t2 = performance.now();
  if (finish() !== TABLES) throw new Error('a PRF output is missing');
  return t1 - t0 + (performance.now() - t2);
}
const prfBench = new BlindBench(64, TABLES);
const [voprfMs, oprfMs, prfRatios] = [[], [], []];
for (let i = 0; i < Math.max(5, Math.floor(runs / 3)) + 2; i++) {
  const v = deviceMs(() => prfBench.voprfBlind(), () => prfBench.voprfAnswer(), () => prfBench.voprfFinish());
  const o = deviceMs(() => prfBench.oprfBlind(), () => prfBench.oprfAnswer(), () => prfBench.oprfFinish());
  if (i < 2) continue; // warm-up
  voprfMs.push(v);
  oprfMs.push(o);
  prfRatios.push(v / o);
}
prfBench.free();
const middle = (xs) => xs.sort((x, y) => x - y)[Math.floor(xs.length / 2)];
results.authority_client_1024 = { voprf_ms: middle(voprfMs), oprf_ms: middle(oprfMs), ratio: middle(prfRatios) };

console.log(`wasm (${variant}) under node ${process.version}, medians of ${runs} alternating runs, 1 thread; ratio = median of per-run ratios:`);
console.log('stage            veilwatch ms   onnxruntime-web ms   ratio');
for (const [key, r] of Object.entries(results).filter(([k]) => k !== 'authority_client_1024')) {
  console.log(`${key.padEnd(16)} ${r.veilwatch_ms.toFixed(2).padStart(12)} ${r.ort_web_ms.toFixed(2).padStart(20)} ${r.ratio.toFixed(2).padStart(7)}×`);
}

const prf = results.authority_client_1024;
console.log(`authority custody, device per face at L = ${TABLES}: VOPRF ${prf.voprf_ms.toFixed(1)} ms (blind + verify proof + unblind), plain OPRF ${prf.oprf_ms.toFixed(1)} ms (blind + unblind), ratio ${prf.ratio.toFixed(2)}×`);

const benchPath = join(repo, 'bench.json');
let report = {};
try { report = JSON.parse(readFileSync(benchPath, 'utf8')); } catch { /* first run */ }
report[variants[variant].key] = results;
writeFileSync(`${benchPath}.tmp`, JSON.stringify(report, null, 2));
renameSync(`${benchPath}.tmp`, benchPath);
console.log(`wrote ${benchPath}`);
