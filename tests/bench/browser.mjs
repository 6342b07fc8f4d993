// `make bench`, third part: the wasm engine in headless Chromium (Debian chromium via
// playwright-core). Per-stage medians on the same frames the native bench wrote (detection at
// 320×240 and 640×480, embedding per face — each build of the engine against onnxruntime-web in
// the same page — one blind match against a 1 000-entry local-custody watchlist, and the device's
// cost per face of authority custody at L = 1024, VOPRF against plain OPRF), then the
// whole kiosk on a fake camera for 30 s: frames per second sustained and mean end-to-end frame
// time. Results go to bench.json under "browser".

import { readFileSync, renameSync, writeFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { fakeCamera, launchWithCamera, lfw, repo, serveKiosk } from '../harness.mjs';

const framesDir = process.argv[2];
if (!framesDir) throw new Error('usage: node tests/bench/browser.mjs FRAMES_DIR (from veilwatch bench --frames-out)');
const runs = Number(process.env.BENCH_RUNS ?? 20);
const seconds = Number(process.env.BENCH_SECONDS ?? 30);

const { origin, process: server } = await serveKiosk(['--mount', `/bench-frames=${framesDir}`,
  '--mount', `/ort=${join(repo, 'node_modules/onnxruntime-web/dist')}`, '--mount', `/pkg-bench=${join(repo, 'pkg-bench')}`]);
const scratch = mkdtempSync(join(tmpdir(), 'veilwatch-bench-'));
const camera = fakeCamera(join(scratch, 'camera.y4m'), [join(lfw, 'Aaron_Sorkin/Aaron_Sorkin_0001.jpg')], 5, 15);
const browser = await launchWithCamera(camera);
try {
  const page = await browser.newPage();
  await page.goto(`${origin}/notice.html`);
  const stages = await page.evaluate(async (runs) => {
    // The bench package (pkg-bench/: the production engine plus the `bench-api` calls).
    // Both engine builds, each in its own instance of the JS glue (the query string makes the
    // browser load the module twice), run alternately with onnxruntime-web on the same inputs;
    // the relaxed-SIMD build only where this browser has relaxed SIMD, as the kiosk would choose.
    const { engineWasmFile } = await import('/pkg/engine-wasm.js');
    const bytes = async (u) => new Uint8Array(await (await fetch(u)).arrayBuffer());
    const [detectorBytes, recognizerBytes] = await Promise.all([
      bytes('/models/face_detection_yunet_2023mar_int8bq.onnx'), bytes('/models/face_recognition_sface_2021dec_int8bq.onnx')]);
    const builds = { simd128: 'veilwatch_bg.wasm' };
    if (engineWasmFile() === 'veilwatch_relaxed_bg.wasm') builds.relaxed_simd = 'veilwatch_relaxed_bg.wasm';
    const engines = {};
    let BlindBench;
    for (const [name, file] of Object.entries(builds)) {
      const glue = await import(`/pkg-bench/veilwatch.js?build=${name}`);
      await glue.default({ module_or_path: `/pkg-bench/${file}` });
      engines[name] = new glue.Engine(detectorBytes, recognizerBytes);
      BlindBench = glue.BlindBench;
    }
    // onnxruntime-web in the same page, wasm backend, one thread, on the same inputs (the folded
    // f32 models the node benchmark wrote; onnxruntime cannot run the int8bq files as shipped).
    const ort = await import('/ort/ort.wasm.min.mjs');
    ort.env.wasm.numThreads = 1;
    ort.env.wasm.wasmPaths = '/ort/';
    const session = async (name) => ort.InferenceSession.create(await bytes(`/bench-frames/folded/${name}`), { executionProviders: ['wasm'] });
    const ortDetector = await session('face_detection_yunet_2023mar_folded.onnx');
    const ortRecognizer = await session('face_recognition_sface_2021dec_folded.onnx');
    const median = (xs) => xs.sort((a, b) => a - b)[Math.floor(xs.length / 2)];
    const paired = async (ours, theirs) => {
      for (let i = 0; i < 3; i++) { ours(); await theirs(); }
      const [a, b, r] = [[], [], []];
      for (let i = 0; i < runs; i++) {
        const t0 = performance.now(); ours(); const t1 = performance.now(); await theirs(); const t2 = performance.now();
        a.push(t1 - t0); b.push(t2 - t1); r.push((t1 - t0) / (t2 - t1));
      }
      return { veilwatch_ms: median(a), ort_web_ms: median(b), ratio: median(r) };
    };
    const inputs = [];
    for (const [key, w, h] of [['detect_320x240', 320, 240], ['detect_640x480', 640, 480]]) {
      const rgba = await bytes(`/bench-frames/${key}.rgba`);
      const [pw, ph] = [Math.ceil(w / 32) * 32, Math.ceil(h / 32) * 32];
      const data = new Float32Array(3 * pw * ph);
      for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) {
        const i = (y * w + x) * 4;
        data[y * pw + x] = rgba[i + 2]; data[pw * ph + y * pw + x] = rgba[i + 1]; data[2 * pw * ph + y * pw + x] = rgba[i];
      }
      const tensor = new ort.Tensor('float32', data, [1, 3, ph, pw]);
      inputs.push([key, (engine) => engine.detect(rgba, w, h), () => ortDetector.run({ [ortDetector.inputNames[0]]: tensor })]);
    }
    const crop = await bytes('/bench-frames/embed_112x112.rgb');
    const planes = new Float32Array(3 * 112 * 112);
    for (let i = 0; i < 112 * 112; i++) for (let c = 0; c < 3; c++) planes[c * 112 * 112 + i] = crop[i * 3 + c];
    const cropTensor = new ort.Tensor('float32', planes, [1, 3, 112, 112]);
    inputs.push(['embed', (engine) => engine.benchmarkEmbedding(crop), () => ortRecognizer.run({ [ortRecognizer.inputNames[0]]: cropTensor })]);
    const out = {};
    for (const [name, engine] of Object.entries(engines)) {
      out[name] = {};
      for (const [key, ours, theirs] of inputs) out[name][key] = await paired(() => ours(engine), theirs);
    }
    const blind = new BlindBench(1000);
    const times = [];
    for (let i = 0; i < runs; i++) {
      const t0 = performance.now();
      if (blind.matchOnce() !== 1) throw new Error('no match');
      times.push(performance.now() - t0);
    }
    out.blind_match_local_1000 = { veilwatch_ms: median(times) };
    blind.free();
    // Authority custody, the device's half of one face at L = 1024: VOPRF (blind, then verify the
    // batched proof and unblind) against plain OPRF (blind, unblind), alternating run by run; the
    // authority's answer is computed in between and not timed.
    const prfBench = new BlindBench(64, 1024);
    const deviceMs = (blind, answer, finish) => {
      const t0 = performance.now(); blind(); const t1 = performance.now(); answer(); const t2 = performance.now();
      if (finish() !== 1024) throw new Error('a PRF output is missing');
      return t1 - t0 + (performance.now() - t2);
    };
    const [voprfMs, oprfMs, ratios] = [[], [], []];
    for (let i = 0; i < Math.max(5, Math.floor(runs / 2)) + 2; i++) {
      const v = deviceMs(() => prfBench.voprfBlind(), () => prfBench.voprfAnswer(), () => prfBench.voprfFinish());
      const o = deviceMs(() => prfBench.oprfBlind(), () => prfBench.oprfAnswer(), () => prfBench.oprfFinish());
      if (i < 2) continue;
      voprfMs.push(v); oprfMs.push(o); ratios.push(v / o);
    }
    prfBench.free();
    out.authority_client_1024 = { voprf_ms: median(voprfMs), oprf_ms: median(oprfMs), ratio: median(ratios) };
    return out;
  }, runs);

  await page.goto(origin);
  await page.waitForFunction(() => !document.getElementById('start').disabled, null, { timeout: 120_000 });
  await page.click('#start');
  await page.waitForFunction(() => Number(document.getElementById('frames').textContent) >= 3, null, { timeout: 60_000 });
  await page.click('#enrol');
  await page.waitForFunction(() => /enrolled/.test(document.getElementById('status').textContent), null, { timeout: 60_000 });
  const count = () => page.evaluate(() => Number(document.getElementById('frames').textContent));
  const [f0, t0] = [await count(), Date.now()];
  await new Promise((r) => setTimeout(r, seconds * 1000));
  const [f1, t1] = [await count(), Date.now()];
  const fps = (f1 - f0) / ((t1 - t0) / 1000);
  const kiosk = { frames: f1 - f0, seconds: (t1 - t0) / 1000, fps, mean_frame_ms: 1000 / fps };

  console.log(`headless Chromium (${browser.version()}), 1 thread, medians of ${runs} runs alternating with onnxruntime-web:`);
  for (const build of ['simd128', 'relaxed_simd'].filter((b) => stages[b])) {
    for (const [k, v] of Object.entries(stages[build])) {
      console.log(`  ${build.padEnd(13)} ${k.padEnd(16)} ${v.veilwatch_ms.toFixed(2).padStart(8)} ms   onnxruntime-web ${v.ort_web_ms.toFixed(2).padStart(7)} ms   ratio ${v.ratio.toFixed(2)}×`);
    }
  }
  console.log(`  blind match, local custody, 1 000 entries: ${stages.blind_match_local_1000.veilwatch_ms.toFixed(2)} ms`);
  const prf = stages.authority_client_1024;
  console.log(`  authority custody, device per face at L = 1024: VOPRF ${prf.voprf_ms.toFixed(1)} ms (blind + verify proof + unblind), plain OPRF ${prf.oprf_ms.toFixed(1)} ms, ratio ${prf.ratio.toFixed(2)}×`);
  console.log(`  kiosk end to end (640×480 camera, 1 face, demo watchlist): ${fps.toFixed(1)} frames/s sustained over ${kiosk.seconds.toFixed(0)} s (${kiosk.mean_frame_ms.toFixed(0)} ms per frame)`);
  const benchPath = join(repo, 'bench.json');
  let report = {};
  try { report = JSON.parse(readFileSync(benchPath, 'utf8')); } catch { /* first run */ }
  report.browser = { ...stages, kiosk };
  writeFileSync(`${benchPath}.tmp`, JSON.stringify(report, null, 2));
  renameSync(`${benchPath}.tmp`, benchPath);
} finally {
  await browser.close();
  server.kill();
}
