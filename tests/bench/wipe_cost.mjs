// `make bench`: what the heap wiping (G2) costs per frame. The production engine (pkg/, zero-on-free
// allocator and tract's scratch wiped after every run) against the same engine built without the
// wiping (pkg-unwiped/, the heap test's negative control), SIMD128 builds, in one node process, on
// the same 640×480 LFW frame (`veilwatch bench --frames-out DIR`): `Engine.analyse` (detect + align +
// embed the face), alternating run by run. Medians and the median per-run ratio go to bench.json
// under "wipe_cost".

import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { performance } from 'node:perf_hooks';

const repo = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const framesDir = process.argv[2];
const runs = Number(process.env.BENCH_RUNS ?? 30);
if (!framesDir) throw new Error('usage: node tests/bench/wipe_cost.mjs FRAMES_DIR (from veilwatch bench --frames-out)');

async function engineOf(folder) {
  const glue = await import(join(repo, folder, 'veilwatch.js'));
  glue.initSync({ module: readFileSync(join(repo, folder, 'veilwatch_bg.wasm')) });
  return new glue.Engine(
    readFileSync(join(repo, 'models/face_detection_yunet_2023mar_int8bq.onnx')),
    readFileSync(join(repo, 'models/face_recognition_sface_2021dec_int8bq.onnx')),
  );
}

const framePath = join(framesDir, 'detect_640x480.rgba');
if (!existsSync(framePath)) throw new Error(`${framePath} is missing: run veilwatch bench --frames-out ${framesDir}`);
const frame = new Uint8Array(readFileSync(framePath));
const wiped = await engineOf('pkg');
const unwiped = await engineOf('pkg-unwiped');
const frameOf = (engine) => () => engine.analyse(frame, 640, 480);

for (let i = 0; i < 3; i++) { frameOf(wiped)(); frameOf(unwiped)(); }
const [a, b, ratios] = [[], [], []];
for (let i = 0; i < runs; i++) {
  const t0 = performance.now();
  frameOf(wiped)();
  const t1 = performance.now();
  frameOf(unwiped)();
  const t2 = performance.now();
  a.push(t1 - t0);
  b.push(t2 - t1);
  ratios.push((t1 - t0) / (t2 - t1));
}
const median = (xs) => xs.sort((x, y) => x - y)[Math.floor(xs.length / 2)];
const result = { wiped_ms: median(a), unwiped_ms: median(b), ratio: median(ratios), runs };
console.log(`heap wiping, one 640×480 frame with one face (Engine.analyse, SIMD128, node ${process.version}), medians of ${runs} alternating runs:`);
console.log(`  wiped (pkg/) ${result.wiped_ms.toFixed(1)} ms · unwiped (pkg-unwiped/) ${result.unwiped_ms.toFixed(1)} ms · ratio ${result.ratio.toFixed(3)}×`);

const benchPath = join(repo, 'bench.json');
let report = {};
try { report = JSON.parse(readFileSync(benchPath, 'utf8')); } catch { /* first run */ }
report.wipe_cost = result;
writeFileSync(`${benchPath}.tmp`, JSON.stringify(report, null, 2));
renameSync(`${benchPath}.tmp`, benchPath);
console.log(`wrote ${benchPath}`);
