// G2 in the wasm heap: after a real LFW face has gone through the production engine (pkg/) — the
// kiosk (detection, alignment, embedding, tracking, a blind match against a real watchlist, a
// review) and the bare `Engine` (`analyse`, `detect`) — the whole WebAssembly.Memory is scanned for
// every representation of that face the pipeline produces:
//
//   the frame (RGBA as the camera gives it, and packed RGB); the detector's input planes and every
//   activation of its optimised graph; the aligned crop (RGB, and RGBA as the reviewer's probe); the
//   recogniser's input planes and every activation (the padded, normalised input and the
//   un-normalised embedding among them); the embedding and the track's running sums; the L LSH
//   codes, PRF inputs, PRF outputs and bucket keys of its blind match; under sealed custody, the
//   quantised probe (its 128 components as the i64s the kiosk encrypts, and as the u64 slot values
//   mod t that BFV encodes), after a real round trip to a real `veilwatch authority`.
//
// What to look for is computed by the bench package (pkg-bench/, a separate instance with its own
// memory) from the same frame (`activationRunsOf`, `blindTraceOf`): the same build variant of both
// packages computes bit-identical values. The scan runs after the track ended, after `stop()`, after
// a match is reviewed, and after `Engine.analyse`/`detect` return.
//
// The negative control is in this file too: pkg-unwiped/ is the production engine built with the
// test-only feature `unwiped-heap-for-tests` (no zero-on-free allocator, tract's scratch not wiped).
// The same scenarios, scanned the same way, must find the face there, on every run; if they did not,
// the scan would be blind and the production result would mean nothing.
//
// VEILWATCH_WASM_VARIANT=relaxed-simd (node --experimental-wasm-relaxed-simd) scans the relaxed-SIMD
// build, the one Chromium loads, with patterns from the relaxed-SIMD bench build; the negative
// control runs with the SIMD128 variant.

import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import { spawn } from 'node:child_process';

import { cli, freePort, haveLfw, lfw, repo } from '../harness.mjs';
import { signedFetch } from '../../www/kiosk/authority-client.js';

const relaxed = process.env.VEILWATCH_WASM_VARIANT === 'relaxed-simd';
const wasmFile = relaxed ? 'veilwatch_relaxed_bg.wasm' : 'veilwatch_bg.wasm';

/** One package's glue module, instantiated on its own memory. */
async function instantiate(folder, file) {
  const glue = await import(join(repo, folder, 'veilwatch.js'));
  const { memory } = glue.initSync({ module: readFileSync(join(repo, folder, file)) });
  return { glue, memory, name: `${folder}/${file}` };
}

const production = await instantiate('pkg', wasmFile);
const bench = (await instantiate('pkg-bench', wasmFile)).glue;
const unwiped = relaxed ? null : await instantiate('pkg-unwiped', 'veilwatch_bg.wasm');

const detector = readFileSync(join(repo, 'models/face_detection_yunet_2023mar_int8bq.onnx'));
const recognizer = readFileSync(join(repo, 'models/face_recognition_sface_2021dec_int8bq.onnx'));
const haveData = haveLfw('the wasm heap scan');
const veilwatch = (...args) => execFileSync(cli, ['--models', join(repo, 'models'), ...args], { encoding: 'utf8' });
const photo = (name, i) => join(lfw, name, `${name}_${String(i).padStart(4, '0')}.jpg`);
const [W, H] = [640, 480];

/** An LFW photo centred on a grey 640×480 frame, as raw RGBA (what a camera frame looks like);
 * no photo: the grey scene alone. */
function cameraFrame(path) {
  return new Uint8Array(execFileSync('python3', ['-c', `
import sys
from PIL import Image
canvas = Image.new("RGB", (640, 480), (128, 128, 128))
if len(sys.argv) > 1:
    face = Image.open(sys.argv[1]).convert("RGB")
    canvas.paste(face, ((640 - face.width) // 2, (480 - face.height) // 2))
sys.stdout.buffer.write(canvas.convert("RGBA").tobytes())
`, ...(path ? [path] : [])], { maxBuffer: 1 << 24 }));
}

const background = cameraFrame(null);
const varied = (bytes) => new Set(bytes).size >= 10;
const f32Bytes = (values) => new Uint8Array(Float32Array.from(values).buffer);
const slices = (bytes, width, step = width) => {
  const runs = [];
  for (let at = 0; at + width <= bytes.length; at += step) runs.push(bytes.slice(at, at + width));
  return runs;
};
const every = (runs, n) => runs.filter((_, i) => i % Math.max(1, Math.floor(runs.length / n)) === 0);

/** The patterns of one frame, computed once per frame and watchlist: the bench package runs both
 * models with every node exposed, which is most of this test's time. */
const computed = new Map();
function patternsOf(frame, deployment) {
  const key = `${createHash('sha256').update(frame).digest('hex')}:${deployment ? 'with' : 'without'} its blind match`;
  if (!computed.has(key)) computed.set(key, computePatterns(frame, deployment));
  return computed.get(key);
}

/** The plaintext modulus t of sealed custody (src/sealed/params.rs PLAINTEXT_MODULUS). */
const PLAINTEXT_MODULUS = 1_125_899_906_826_241n;

/** `patterns` and the face's quantised probe as sealed custody holds it (src/sealed/quantise.rs:
 * round(128·v), half away from zero, within [−63, 63]): runs of 8 components as i64 LE and as the
 * u64 LE slot values mod t that BFV's SIMD encoding takes. */
function withSealedProbe(patterns) {
  const quantised = Array.from(patterns.embedding, (v) => {
    const x = Math.fround(v * 128);
    return Math.max(-63, Math.min(63, Math.sign(x) * Math.round(Math.abs(x))));
  });
  assert.ok(new Set(quantised).size >= 20, 'the probe is varied enough to be recognised');
  const i64 = new Uint8Array(new BigInt64Array(quantised.map(BigInt)).buffer);
  const modT = new Uint8Array(new BigUint64Array(quantised.map((q) => (q < 0 ? PLAINTEXT_MODULUS + BigInt(q) : BigInt(q)))).buffer);
  return { ...patterns, bytes: { ...patterns.bytes, 'quantised probe (i64)': slices(i64, 64), 'probe slots mod t (u64)': slices(modT, 64) } };
}

/** Every representation of the face in `frame`, as byte patterns, grouped by kind. `bytes` kinds are
 * found at any offset; `words` kinds (runs of f32 values) at 4-byte-aligned offsets. */
function computePatterns(frame, deployment) {
  const engine = new bench.Engine(detector, recognizer);
  const crop = engine.alignedCropOf(frame, W, H);
  const embedding = engine.embeddingOf(frame, W, H);
  const trace = deployment ? bench.blindTraceOf(engine, frame, W, H, deployment.watchlist, deployment.issuerKey, deployment.custody.prfKey) : null;
  engine.free();
  const sampled = bench.activationRunsOf(detector, recognizer, frame, background, W, H);

  const pixels = [];
  const rgb = [];
  for (let y = 160; y < 330; y += 17) {
    const at = (y * W + 280) * 4;
    pixels.push(frame.slice(at, at + 64));
    rgb.push(Uint8Array.from({ length: 48 }, (_, i) => frame[at + 4 * Math.floor(i / 3) + (i % 3)]));
  }
  const cropRgb = [];
  const cropRgba = [];
  for (let y = 20; y < 100; y += 9) {
    const at = (y * 112 + 40) * 3;
    cropRgb.push(crop.slice(at, at + 48));
    const rgba = new Uint8Array(64);
    for (let i = 0; i < 16; i++) rgba.set([...crop.slice(at + 3 * i, at + 3 * i + 3), 255], 4 * i);
    cropRgba.push(rgba);
  }
  for (const run of [...pixels, ...rgb, ...cropRgb]) assert.ok(varied(run), 'patterns are taken from textured parts of the face');

  // A track holds its fused frames' embeddings (src/track.rs); their mean is taken through running
  // sums (Embedding::mean), which must not be left behind either.
  const twice = embedding.map((v) => Math.fround(v + v));
  const thrice = embedding.map((v, i) => Math.fround(twice[i] + v));
  const activations = (model) => sampled.filter((s) => s.model === model).flatMap((s) => slices(s.runs, 16).map((run) => ({ run, node: s.node })));

  const bytes = {
    'frame (RGBA)': pixels,
    'frame (RGB)': rgb,
    'aligned crop (RGB)': cropRgb,
    'probe crop (RGBA)': cropRgba,
  };
  if (trace) {
    const L = trace.codes.length / 2;
    const inputLength = trace.prfInputs.length / L;
    bytes['LSH codes'] = slices(trace.codes, 64);
    // The end of each PRF input: watchlist id, table, code (the constant domain prefix is not the face's).
    bytes['PRF inputs'] = every(slices(trace.prfInputs, inputLength), 64).map((x) => x.slice(inputLength - 20));
    bytes['PRF outputs'] = every(slices(trace.prfOutputs, 32), 64);
    bytes['bucket keys'] = every(slices(trace.bucketKeys, 32), 64);
  }
  const words = {
    'detector input and activations': activations('detector'),
    'recogniser input and activations': activations('recognizer'),
    'embedding': slices(f32Bytes(embedding), 16).map((run) => ({ run, node: 'embedding' })),
    'embedding running sums': [...slices(f32Bytes(twice), 16), ...slices(f32Bytes(thrice), 16)].map((run) => ({ run, node: 'sum' })),
  };
  assert.ok(words['detector input and activations'].length > 100, 'the detector\'s activations were sampled');
  assert.ok(words['recogniser input and activations'].length > 100, 'the recogniser\'s activations were sampled');
  return { bytes, words, embedding };
}

/** How many of each kind of pattern occur anywhere in `memory`, and in which nodes. */
function scan(memory, patterns) {
  const heap = Buffer.from(memory.buffer);
  const found = {};
  const where = new Set();
  for (const [kind, runs] of Object.entries(patterns.bytes)) found[kind] = runs.filter((run) => heap.indexOf(run) !== -1).length;
  // Runs of f32 values: one pass over the aligned words, indexed by each run's first word.
  const words = new Uint32Array(memory.buffer, 0, Math.floor(memory.buffer.byteLength / 4));
  const index = new Map();
  for (const [kind, runs] of Object.entries(patterns.words)) {
    found[kind] = 0;
    for (const { run, node } of runs) {
      const w = new Uint32Array(run.buffer, run.byteOffset, 4);
      if (!index.has(w[0])) index.set(w[0], []);
      index.get(w[0]).push({ kind, node, w, seen: false });
    }
  }
  for (let i = 0; i + 4 <= words.length; i++) {
    const first = words[i];
    if (first === 0) continue;
    const candidates = index.get(first);
    if (!candidates) continue;
    for (const c of candidates) {
      if (!c.seen && words[i + 1] === c.w[1] && words[i + 2] === c.w[2] && words[i + 3] === c.w[3]) {
        c.seen = true;
        found[c.kind]++;
        where.add(`${c.kind}: ${c.node}`);
      }
    }
  }
  return { found, where: [...where] };
}

const nothing = (patterns) => Object.fromEntries([...Object.keys(patterns.bytes), ...Object.keys(patterns.words)].map((k) => [k, 0]));
const total = (found) => Object.values(found).reduce((a, b) => a + b, 0);

/** The scenarios, run on one build; each returns the scans taken at its checkpoints. */
function scenarios(build, deployment) {
  const { Kiosk, Engine } = build.glue;
  const blank = new Uint8Array(W * H * 4).fill(128);
  return {
    /** A passer-by who is not on the list: three frames, then one blank frame two seconds on (the track ends:
     * unseen for over a second), then stop(). One blank frame, not more: each blank frame's detector runs
     * reuse freed blocks, so more of them would hide what an engine without the wiping leaves (the
     * negative control) and would make the production scan easier to pass. */
    stranger() {
      const frame = cameraFrame(photo('Tony_Blair', 2));
      const patterns = patternsOf(frame, deployment());
      const kiosk = Kiosk.create({ detector, recognizer, ...deployment() });
      const t0 = Date.now();
      kiosk.frameBuffer(W, H).set(frame);
      const waiting = scan(build.memory, patterns).found;
      let result = kiosk.processFrame(W, H, t0);
      assert.equal(result.faces.length, 1, 'the face was detected');
      assert.ok(result.counters.matchAttempts >= 1, 'and matched against the watchlist');
      assert.equal(result.alerts.length, 0, 'it is not on it');
      const live = scan(build.memory, patterns).found;
      for (let i = 1; i < 3; i++) {
        kiosk.frameBuffer(W, H).set(frame);
        result = kiosk.processFrame(W, H, t0 + 100 * i);
      }
      kiosk.frameBuffer(W, H).set(blank);
      result = kiosk.processFrame(W, H, t0 + 3000);
      assert.equal(result.counters.tracksActive, 0, 'the track ended');
      assert.equal(result.counters.retained, 0);
      const trackEnded = scan(build.memory, patterns);
      kiosk.stop();
      const stopped = scan(build.memory, patterns);
      kiosk.free();
      return { patterns, waiting, live, trackEnded, stopped };
    },
    /** A passer-by on the list: the alert is reviewed (rejected), then stop(). */
    reviewed() {
      const frame = cameraFrame(photo('Colin_Powell', 1));
      const patterns = patternsOf(frame, deployment());
      const kiosk = Kiosk.create({ detector, recognizer, ...deployment() });
      kiosk.frameBuffer(W, H).set(frame);
      const result = kiosk.processFrame(W, H, Date.now());
      assert.equal(result.alerts.length, 1, 'the enrolled person raised an alert');
      const [alert] = result.alerts;
      const pending = scan(build.memory, patterns).found;
      alert.probe.fill(0);
      kiosk.reviewAlert(alert.id, 'reject', 'A. Reviewer');
      kiosk.stop();
      const afterReview = scan(build.memory, patterns);
      kiosk.free();
      return { patterns, pending, afterReview };
    },
    /** The kiosk's two Workers (issue 19): `FaceDetector` detects each frame, `Kiosk` processes the
     * detected frame; the same passer-by as `stranger`, the same frames. In the browser each stage
     * has its own instance; here both share one memory, which the scan covers whole. */
    twoWorkers() {
      const frame = cameraFrame(photo('Tony_Blair', 2));
      const patterns = patternsOf(frame, deployment());
      const { FaceDetector } = build.glue;
      const stage = FaceDetector.create(detector);
      const kiosk = Kiosk.create({ detector, recognizer, ...deployment() });
      const t0 = Date.now();
      const process = (pixels, t) => {
        stage.frameBuffer(W, H).set(pixels);
        const detection = stage.detect(W, H);
        kiosk.frameBuffer(W, H).set(pixels);
        return kiosk.processDetectedFrame(W, H, detection, t);
      };
      let result = process(frame, t0);
      assert.equal(result.faces.length, 1, 'the face was detected');
      assert.ok(result.counters.matchAttempts >= 1, 'and matched against the watchlist');
      for (let i = 1; i < 3; i++) result = process(frame, t0 + 100 * i);
      result = process(blank, t0 + 3000);
      assert.equal(result.counters.tracksActive, 0, 'the track ended');
      const trackEnded = scan(build.memory, patterns);
      kiosk.stop();
      stage.reset();
      const stopped = scan(build.memory, patterns);
      kiosk.free();
      stage.free();
      return { patterns, trackEnded, stopped };
    },
    /** A passer-by who is not on the list, under sealed custody (`sealed`: the deployment and the
     * authority it runs at): the face's first step goes to the authority (a new key pair first, so
     * the quantised probe waits in the session meanwhile); every step is POSTed, signed, to the real
     * authority until the face is done, then the track ends, then stop(). The BFV ciphertexts leave;
     * the probe must not stay. */
    async sealedStranger(sealed) {
      const frame = cameraFrame(photo('Tony_Blair', 2));
      const patterns = withSealedProbe(patternsOf(frame, null));
      const kiosk = Kiosk.create({ detector, recognizer });
      kiosk.setAuthorityTimeout(120_000);
      assert.equal(kiosk.loadWatchlist(sealed.deployment()), undefined, 'a sealed deployment loads without a key check');
      const t0 = Date.now();
      kiosk.frameBuffer(W, H).set(frame);
      let result = kiosk.processFrame(W, H, t0);
      assert.equal(result.faces.length, 1, 'the face was detected');
      const queries = [...(result.queries ?? [])];
      assert.deepEqual(queries.map((q) => q.path), ['/v1/sealed/seed'], 'its first step asks for a new key pair\'s seed');
      const waiting = scan(build.memory, patterns).found;
      const paths = [];
      while (queries.length > 0) {
        const { id, path, body } = queries.shift();
        paths.push(path);
        const response = await signedFetch(sealed.url, { path, body, deploymentHex: kiosk.deploymentId(), kioskKey: sealed.key, timeoutMs: 120_000 });
        const answered = kiosk.completeQuery(id, new Uint8Array(await response.arrayBuffer()));
        assert.equal(answered.matchingError, undefined, `${path}: ${answered.matchingError}`);
        assert.equal(answered.alerts.length, 0, 'a stranger is not on the list');
        queries.push(...(answered.queries ?? []));
      }
      assert.ok(paths.includes('/v1/sealed/match') && paths.includes('/v1/sealed/claim'), paths.join(' '));
      const answered = scan(build.memory, patterns);
      kiosk.frameBuffer(W, H).set(blank);
      result = kiosk.processFrame(W, H, t0 + 3000);
      assert.equal(result.counters.tracksActive, 0, 'the track ended');
      const trackEnded = scan(build.memory, patterns);
      kiosk.stop();
      const stopped = scan(build.memory, patterns);
      kiosk.free();
      return { patterns, waiting, answered, trackEnded, stopped };
    },
    /** The bare engine: Engine.analyse, then Engine.detect, on the frame. */
    bareEngine() {
      const frame = cameraFrame(photo('Tony_Blair', 2));
      const patterns = patternsOf(frame, null);
      const engine = new Engine(detector, recognizer);
      assert.equal(engine.analyse(frame, W, H).length, 1, 'analyse found the face');
      const analysed = scan(build.memory, patterns);
      assert.equal(engine.detect(frame, W, H).length, 1, 'detect found the face');
      const detected = scan(build.memory, patterns);
      engine.free();
      return { patterns, analysed, detected };
    },
  };
}

describe('G2 in the wasm heap: nothing of a processed face stays in the WebAssembly.Memory', { skip: !haveData }, () => {
  let scratch;
  let deployment;
  /** Sealed custody: the deployment (its descriptor and profile), the authority and the kiosk key. */
  const sealed = { deployment: null, url: null, key: null, authority: null };
  const file = (name) => join(scratch, name);

  before(async () => {
    scratch = mkdtempSync(join(tmpdir(), 'veilwatch-heap-'));
    const issuerKey = veilwatch('keygen', '--out', file('keys')).trim();
    const prfKey = readFileSync(file('keys/secret/prf-local.key'), 'utf8').trim();
    mkdirSync(file('people/Colin_Powell'), { recursive: true });
    for (let i = 2; i <= 8; i++) symlinkSync(photo('Colin_Powell', i), file(`people/Colin_Powell/${i}.jpg`));
    veilwatch('enroll', file('people'), '--keys', file('keys'), '--out', file('list.vwl'), '--valid-until', '2099-01-01');
    // A deployment runs only under its signed profile (local custody: any kiosk).
    writeFileSync(file('profile.json'), JSON.stringify({
      purpose: 'wasm heap test', legalBasis: 'Test data (LFW)', operator: 'Veilwatch CI', location: 'node',
      validFrom: '2020-01-01T00:00:00Z', validUntil: '2099-01-01T00:00:00Z', threshold: 53, thresholdFloor: 50, custody: { kind: 'local' },
      queryRatePerMinute: 600, notice: 'Test deployment.', contact: 'ci@veilwatch.invalid',
    }));
    veilwatch('profile', 'sign', '--keys', file('keys'), '--watchlist', file('list.vwl'), '--template', file('profile.json'), '--out', file('list.vwp'));
    const profile = readFileSync(file('list.vwp'), 'utf8');
    deployment = () => ({ watchlist: new Uint8Array(readFileSync(file('list.vwl'))), issuerKey, profile, custody: { kind: 'local', prfKey } });

    // The same person under sealed custody, at a real authority, for a kiosk key made here.
    veilwatch('enroll', file('people'), '--keys', file('keys'), '--out', file('sealed.json'), '--custody', 'sealed', '--valid-until', '2099-01-01');
    const pair = await crypto.subtle.generateKey({ name: 'Ed25519' }, false, ['sign', 'verify']);
    sealed.key = { pair, publicHex: Buffer.from(await crypto.subtle.exportKey('raw', pair.publicKey)).toString('hex') };
    veilwatch('registration', 'deployment', '--keys', file('keys'), '--sealed', file('sealed.json'), '--kiosk-key', sealed.key.publicHex,
      '--faces-per-minute', '600', '--faces-per-day', '10000', '--faces-total', '100000', '--out', file('sealed.vwr'));
    sealed.url = `http://127.0.0.1:${await freePort()}`;
    const descriptor = readFileSync(file('sealed.json.deployment'));
    const { thresholdMilli } = JSON.parse(descriptor.toString('utf8').split('\n')[1]);
    writeFileSync(file('sealed-profile.json'), JSON.stringify({
      ...JSON.parse(readFileSync(file('profile.json'), 'utf8')), custody: { kind: 'sealed', url: sealed.url }, threshold: thresholdMilli, thresholdFloor: thresholdMilli,
    }));
    veilwatch('profile', 'sign', '--keys', file('keys'), '--watchlist', file('sealed.json.deployment'), '--template', file('sealed-profile.json'),
      '--kiosk-key', sealed.key.publicHex, '--out', file('sealed.vwp'));
    const sealedProfile = readFileSync(file('sealed.vwp'), 'utf8');
    sealed.deployment = () => ({ watchlist: new Uint8Array(descriptor), issuerKey, profile: sealedProfile, custody: { kind: 'sealed', url: sealed.url }, kioskPublicKey: sealed.key.publicHex });
    sealed.authority = spawn(cli, ['authority', '--keys', file('keys/authority'), '--listen', sealed.url.slice('http://'.length), '--admin-listen', '127.0.0.1:0', '--register', file('sealed.vwr')], { stdio: 'ignore' });
    for (let i = 0; ; i++) {
      try {
        await fetch(`${sealed.url}/v1/health`);
        break;
      } catch (error) {
        if (i === 200) throw new Error(`veilwatch authority did not come up at ${sealed.url}: ${error.message}`);
        await new Promise((r) => setTimeout(r, 100));
      }
    }
  });
  after(() => {
    sealed.authority?.kill();
    rmSync(scratch, { recursive: true, force: true });
  });

  describe(`production engine (${production.name})`, () => {
    test('a passer-by who is not on the list: nothing left once the track ends, nor after stop()', () => {
      const { patterns, waiting, live, trackEnded, stopped } = scenarios(production, deployment).stranger();
      assert.equal(waiting['frame (RGBA)'], patterns.bytes['frame (RGBA)'].length, 'the scan finds the frame while it waits in the frame buffer');
      assert.ok(live.embedding > 0, 'the scan finds the embedding while its track is live (the track holds it)');
      assert.deepEqual(trackEnded.found, nothing(patterns), `nothing of the passer-by is left after the track ended; found: ${trackEnded.where.join('; ')}`);
      assert.deepEqual(stopped.found, nothing(patterns), `nor after stop(); found: ${stopped.where.join('; ')}`);
    });

    test('two Workers (FaceDetector, then Kiosk.processDetectedFrame): nothing left once the track ends, nor after stop()', () => {
      const { patterns, trackEnded, stopped } = scenarios(production, deployment).twoWorkers();
      assert.deepEqual(trackEnded.found, nothing(patterns), `nothing of the passer-by is left after the track ended; found: ${trackEnded.where.join('; ')}`);
      assert.deepEqual(stopped.found, nothing(patterns), `nor after stop(); found: ${stopped.where.join('; ')}`);
    });

    test('a passer-by on the list: the probe crop is held for the review only, then nothing is left', () => {
      const { patterns, pending, afterReview } = scenarios(production, deployment).reviewed();
      assert.ok(pending['probe crop (RGBA)'] > 0, 'the scan finds the probe crop while the alert waits for review');
      assert.deepEqual(afterReview.found, nothing(patterns), `nothing is left once it is reviewed and stopped; found: ${afterReview.where.join('; ')}`);
    });

    test('sealed custody, a passer-by who is not on the list: the quantised probe is gone once the face is answered, and nothing is left once the track ends, nor after stop()', async () => {
      const { patterns, waiting, answered, trackEnded, stopped } = await scenarios(production, deployment).sealedStranger(sealed);
      // The positive control: the scan finds the probe where it is (in its box, while the kiosk
      // registers a key pair before it can encrypt it).
      assert.equal(waiting['quantised probe (i64)'], patterns.bytes['quantised probe (i64)'].length, 'the scan finds the quantised probe while it waits');
      assert.equal(answered.found['quantised probe (i64)'] + answered.found['probe slots mod t (u64)'], 0,
        `no quantised probe is left once the authority answered; found: ${answered.where.join('; ')}`);
      assert.deepEqual(trackEnded.found, nothing(patterns), `nothing of the passer-by is left after the track ended; found: ${trackEnded.where.join('; ')}`);
      assert.deepEqual(stopped.found, nothing(patterns), `nor after stop(); found: ${stopped.where.join('; ')}`);
    });

    test('the bare Engine: nothing left after analyse() or detect() returns', () => {
      const { patterns, analysed, detected } = scenarios(production, deployment).bareEngine();
      assert.deepEqual(analysed.found, nothing(patterns), `after analyse(); found: ${analysed.where.join('; ')}`);
      assert.deepEqual(detected.found, nothing(patterns), `after detect(); found: ${detected.where.join('; ')}`);
    });

    test('enrolFromFrame (demo mode) leaves no frame pixels or crop behind', () => {
      const frame = cameraFrame(photo('Colin_Powell', 1));
      const patterns = patternsOf(frame, null);
      const kiosk = production.glue.Kiosk.create({ detector, recognizer });
      kiosk.frameBuffer(W, H).set(frame);
      assert.equal(kiosk.enrollFromFrame(W, H, 'Visitor'), 1);
      const { found, where } = scan(production.memory, patterns);
      const transient = ['frame (RGBA)', 'frame (RGB)', 'aligned crop (RGB)', 'detector input and activations', 'recogniser input and activations'];
      assert.deepEqual(transient.map((k) => found[k]), transient.map(() => 0), `found: ${where.join('; ')}`);
      kiosk.free();
    });
  });

  describe('negative control: the same engine built without the wiping (pkg-unwiped/) leaves the face, and the scan finds it', { skip: relaxed && 'the negative control runs with the SIMD128 variant' }, () => {
    // One Worker: since the room refactor of stop 25 (issue 20 item 1) the single blank frame's
    // detector runs reuse the freed blocks that held the recogniser's activations, so an engine
    // without the wiping no longer keeps them past the track's end here. The scan must still find
    // them while the face is processed; the two-Worker control below (the kiosk's own layout)
    // finds them after the track ended and after stop().
    test('a passer-by who is not on the list: the face is found in the unwiped heap while it is processed', () => {
      const { live, trackEnded, stopped } = scenarios(unwiped, deployment).stranger();
      console.log(`negative control, stranger while live: ${JSON.stringify(live)}`);
      console.log(`negative control, stranger after the track ended: ${JSON.stringify(trackEnded.found)}; after stop(): ${JSON.stringify(stopped.found)}`);
      assert.ok(live['recogniser input and activations'] > 0, 'the recogniser\'s activations are found while the face is live');
      assert.ok(live['detector input and activations'] > 0, 'and the detector\'s');
    });

    test('two Workers: the face is found after the track ended and after stop()', () => {
      const { trackEnded, stopped } = scenarios(unwiped, deployment).twoWorkers();
      console.log(`negative control, two Workers after stop(): ${JSON.stringify(stopped.found)}`);
      assert.ok(trackEnded.found['recogniser input and activations'] > 0, 'the recogniser\'s activations are found after the track ended');
      assert.ok(stopped.found['recogniser input and activations'] > 0, 'and after stop()');
    });

    test('the bare Engine: the face is found after analyse()', () => {
      const { analysed } = scenarios(unwiped, deployment).bareEngine();
      console.log(`negative control, after analyse(): ${JSON.stringify(analysed.found)}`);
      assert.ok(total(analysed.found) > 0, 'something of the face is found');
      assert.ok(analysed.found['recogniser input and activations'] > 0, 'the recogniser\'s activations are found');
      assert.ok(analysed.found['detector input and activations'] > 0, 'and the detector\'s (in the kiosk, the blank frames\' runs reuse their blocks)');
      assert.ok(analysed.found.embedding > 0, 'and the embedding');
    });
  });
});
