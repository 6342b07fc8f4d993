// `make bench`, sealed custody's device cost per face in wasm (DESIGN §3.4), in node and in headless
// Chromium, beside VOPRF custody's device cost measured in the same run and page (BlindBench at
// L = 1024: blind, verify the batched proof, unblind). The kiosk's steps (pkg-bench/ `SealedBench`):
// key generation (once per key pair: after every positive claim and every 1 000 faces), encryption
// of the probe against the authority's seed, decryption of the answer (N = 1 000 rows, one block of
// 8 192 slots) and the claim of its positive slot (commitment, then the Bulletproofs range proof
// under the opened masks). The answer is the native authority's (examples/sealed_answer.rs, run
// between the timed steps and not timed); the probe is one of the rows, so every face claims.
// Medians go to bench.json under "sealed" ("wasm_node", "wasm_chromium"; `veilwatch bench sealed`
// writes "native").
//
// node tests/bench/sealed_device.mjs   (needs pkg-bench/ and the sealed_answer example built)

import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';

import { chromium } from 'playwright-core';

import { chromiumPath, repo, serveKiosk, targetDir } from '../harness.mjs';
import { deviceSide } from './sealed_device_side.mjs';

const runs = Number(process.env.BENCH_RUNS ?? 5);
const ROWS = 1000;
const helper = join(targetDir, 'release/examples/sealed_answer');
const scratch = mkdtempSync(join(tmpdir(), 'veilwatch-sealed-bench-'));

const hex = (bytes) => Buffer.from(bytes).toString('hex');
const b64 = (bytes) => Buffer.from(bytes).toString('base64');
const random = (n) => crypto.getRandomValues(new Uint8Array(n));
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
function template() {
  const v = Array.from({ length: 128 }, () => Math.random() - 0.5);
  const norm = Math.hypot(...v);
  return v.map((x) => Math.max(-63, Math.min(63, Math.round((x / norm) * 128)))); // src/sealed/quantise.rs
}
const probe = template();
const gallery = Array.from({ length: ROWS }, (_, i) => (i === ROWS - 1 ? probe : template()));

/** The native authority's answer to a query: the match answer's body and the positives' opening. */
function nativeAnswer({ keySeed, querySeed, publicKey, rotationKey, query }) {
  const input = join(scratch, 'query.json');
  writeFileSync(input, JSON.stringify({ keySeed, querySeed, publicKey, rotationKey, query, probe, gallery, threshold: 0.36 }));
  const out = JSON.parse(execFileSync(helper, [input], { encoding: 'utf8', maxBuffer: 64 << 20 }));
  return { answer: out.answer, opening: out.opening, positives: out.positives.length };
}

/** One face's device steps with `SealedBench` (in this process or a page, through `call`). */
async function sealedRuns(call) {
  const times = { keygen_ms: [], encrypt_ms: [], decrypt_ms: [], claim_ms: [] };
  for (let run = 0; run <= runs; run++) {
    const keySeed = hex(random(32));
    const querySeed = hex(random(32));
    const made = await call('encrypt', { keySeed, querySeed, probe });
    const native = nativeAnswer({ keySeed, querySeed, ...made });
    const read = await call('claim', native);
    if (read.positives !== native.positives || read.positives < 1) throw new Error(`positives: wasm ${read.positives}, native ${native.positives}`);
    if (run === 0) continue; // warm-up
    for (const k of ['keygen_ms', 'encrypt_ms']) times[k].push(made[k]);
    for (const k of ['decrypt_ms', 'claim_ms']) times[k].push(read[k]);
  }
  const out = Object.fromEntries(Object.entries(times).map(([k, v]) => [k, median(v)]));
  out.per_face_ms = out.encrypt_ms + out.decrypt_ms + out.claim_ms;
  out.per_face_with_keygen_ms = out.per_face_ms + out.keygen_ms;
  out.rows = ROWS;
  return out;
}

const report = {};
// node
{
  const glue = await import(join(repo, 'pkg-bench/veilwatch.js'));
  glue.initSync({ module: readFileSync(join(repo, 'pkg-bench/veilwatch_bg.wasm')) });
  const side = deviceSide(glue);
  report.wasm_node = await sealedRuns(async (step, args) => side[step](args));
  report.wasm_node.voprf_ms = side.voprf(Math.max(5, runs));
  report.wasm_node.runtime = `node ${process.version}`;
}
// headless Chromium
const { origin, process: server } = await serveKiosk(['--mount', `/pkg-bench=${join(repo, 'pkg-bench')}`, '--mount', `/bench-js=${join(repo, 'tests/bench')}`]);
const browser = await chromium.launch({ executablePath: chromiumPath, args: ['--no-sandbox'] });
try {
  const page = await browser.newPage();
  await page.goto(`${origin}/notice.html`);
  await page.evaluate(async () => {
    const glue = await import('/pkg-bench/veilwatch.js');
    await glue.default({ module_or_path: '/pkg-bench/veilwatch_bg.wasm' });
    window.side = (await import('/bench-js/sealed_device_side.mjs')).deviceSide(glue);
  });
  report.wasm_chromium = await sealedRuns((step, args) => page.evaluate(([s, a]) => window.side[s](a), [step, args]));
  report.wasm_chromium.voprf_ms = await page.evaluate((n) => window.side.voprf(n), Math.max(5, runs));
  report.wasm_chromium.runtime = `Chromium ${browser.version()}`;
} finally {
  await browser.close();
  server.kill();
  rmSync(scratch, { recursive: true, force: true });
}

console.log(`sealed custody, device per face in wasm (SIMD128 build, N = ${ROWS}, one claimed slot; medians of ${runs}), beside VOPRF custody at L = 1024 in the same run:`);
for (const [where, r] of Object.entries(report)) {
  console.log(`  ${r.runtime.padEnd(22)} encrypt ${r.encrypt_ms.toFixed(1)} ms + decrypt ${r.decrypt_ms.toFixed(1)} ms + claim ${r.claim_ms.toFixed(1)} ms = ${r.per_face_ms.toFixed(1)} ms per face; key generation ${r.keygen_ms.toFixed(0)} ms per key pair; VOPRF ${r.voprf_ms.toFixed(1)} ms per face  [${where}]`);
}
const benchPath = join(repo, 'bench.json');
let file = {};
try { file = JSON.parse(readFileSync(benchPath, 'utf8')); } catch { /* first run */ }
file.sealed = { ...(file.sealed ?? {}), ...report };
writeFileSync(`${benchPath}.tmp`, JSON.stringify(file, null, 2));
renameSync(`${benchPath}.tmp`, benchPath);
console.log(`wrote ${benchPath}`);
