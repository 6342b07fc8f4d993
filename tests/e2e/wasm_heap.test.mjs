// G2 in the wasm heap: after the production kiosk (pkg/) has processed a real LFW frame — detection,
// alignment, embedding, tracking, a blind match against a real watchlist — the whole
// WebAssembly.Memory is scanned for what that face left: runs of the frame's pixels, of the aligned
// 112×112 crop (RGB, and RGBA as the reviewer's probe), and of the embedding's f32 bytes. The native
// allocator test (tests/zeroise.rs) cannot see this heap: here a buffer freed unwiped by JS glue or
// by wasm-bindgen would keep the last passer-by's face for anyone who can read the memory.
//
// What to look for is computed by the bench package (pkg-bench/, a separate instance with its own
// memory) from the same frame: the SIMD128 builds of both packages compute bit-identical crops and
// embeddings. Each scan is shown to work first, on data the kiosk legitimately holds at that moment.

import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import { cli, haveLfw, lfw, repo } from '../harness.mjs';

const production = await import(join(repo, 'pkg/veilwatch.js'));
const { memory } = production.initSync({ module: readFileSync(join(repo, 'pkg/veilwatch_bg.wasm')) });
const bench = await import(join(repo, 'pkg-bench/veilwatch.js'));
bench.initSync({ module: readFileSync(join(repo, 'pkg-bench/veilwatch_bg.wasm')) });

const detector = readFileSync(join(repo, 'models/face_detection_yunet_2023mar_int8bq.onnx'));
const recognizer = readFileSync(join(repo, 'models/face_recognition_sface_2021dec_int8bq.onnx'));
const haveData = haveLfw('the wasm heap scan');
const veilwatch = (...args) => execFileSync(cli, ['--models', join(repo, 'models'), ...args], { encoding: 'utf8' });
const photo = (name, i) => join(lfw, name, `${name}_${String(i).padStart(4, '0')}.jpg`);
const [W, H] = [640, 480];

/** An LFW photo centred on a grey 640×480 frame, as raw RGBA (what a camera frame looks like). */
function cameraFrame(path) {
  return new Uint8Array(execFileSync('python3', ['-c', `
import sys
from PIL import Image
canvas = Image.new("RGB", (640, 480), (128, 128, 128))
face = Image.open(sys.argv[1]).convert("RGB")
canvas.paste(face, ((640 - face.width) // 2, (480 - face.height) // 2))
sys.stdout.buffer.write(canvas.convert("RGBA").tobytes())
`, path], { maxBuffer: 1 << 24 }));
}

const varied = (bytes) => new Set(bytes).size >= 10;

/** What one face leaves behind, as byte patterns: runs of its frame's pixels through the face, of
 * its aligned crop (RGB and RGBA) and of its embedding's f32 bytes. */
function patternsOf(frame) {
  const engine = new bench.Engine(detector, recognizer);
  const crop = engine.alignedCropOf(frame, W, H);
  const embedding = engine.embeddingOf(frame, W, H);
  engine.free();
  const pixels = [];
  for (let y = 160; y < 330; y += 17) {
    const at = (y * W + 280) * 4;
    pixels.push(frame.slice(at, at + 64));
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
  const bytes = new Uint8Array(embedding.buffer);
  const values = [];
  for (let at = 0; at < bytes.length; at += 16) values.push(bytes.slice(at, at + 16));
  for (const run of [...pixels, ...cropRgb]) assert.ok(varied(run), 'patterns are taken from textured parts of the face');
  return { 'frame pixels': pixels, 'aligned crop (RGB)': cropRgb, 'probe crop (RGBA)': cropRgba, 'embedding values': values };
}

/** How many of each kind of pattern occur anywhere in the wasm memory. */
function scan(patterns) {
  const heap = Buffer.from(memory.buffer);
  return Object.fromEntries(Object.entries(patterns).map(([kind, runs]) =>
    [kind, runs.filter((run) => heap.indexOf(run) !== -1).length]));
}

const none = (patterns) => Object.fromEntries(Object.keys(patterns).map((k) => [k, 0]));

describe('G2 in the wasm heap: nothing of a processed face stays in the WebAssembly.Memory', { skip: !haveData }, () => {
  let scratch;
  let deployment;
  const file = (name) => join(scratch, name);

  before(() => {
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
  });
  after(() => rmSync(scratch, { recursive: true, force: true }));

  test('a passer-by who is not on the list: frame and crop gone after processFrame, embedding when the track ends', () => {
    const frame = cameraFrame(photo('Tony_Blair', 2));
    const patterns = patternsOf(frame);
    const kiosk = production.Kiosk.create({ detector, recognizer, ...deployment() });
    const t0 = Date.now();
    kiosk.frameBuffer(W, H).set(frame);
    assert.equal(scan(patterns)['frame pixels'], patterns['frame pixels'].length, 'the scan finds the frame while it waits in the frame buffer');
    let result = kiosk.processFrame(W, H, t0);
    assert.equal(result.faces.length, 1, 'the face was detected');
    assert.ok(result.counters.matchAttempts >= 1, 'and matched against the watchlist');
    assert.equal(result.alerts.length, 0, 'it is not on it');
    const live = scan(patterns);
    assert.ok(live['embedding values'] > 0, 'the scan finds the embedding while its track is live (the track holds it)');
    assert.deepEqual({ ...live, 'embedding values': 0 }, none(patterns), 'no pixel or crop of the frame is left');
    for (let i = 1; i < 3; i++) {
      kiosk.frameBuffer(W, H).set(frame);
      result = kiosk.processFrame(W, H, t0 + 100 * i);
    }
    assert.deepEqual({ ...scan(patterns), 'embedding values': 0 }, none(patterns), 'nor after more frames of it');

    // The face leaves: blank frames until its track ends.
    const blank = new Uint8Array(W * H * 4).fill(128);
    for (let i = 0; i < 3; i++) {
      kiosk.frameBuffer(W, H).set(blank);
      result = kiosk.processFrame(W, H, t0 + 3000 + 1000 * i);
    }
    assert.equal(result.counters.tracksActive, 0);
    assert.equal(result.counters.retained, 0);
    assert.deepEqual(scan(patterns), none(patterns), 'nothing of the passer-by is left in the wasm memory');
    kiosk.free();
  });

  test('a passer-by on the list: the probe crop is held for the review only, then nothing is left', () => {
    const frame = cameraFrame(photo('Colin_Powell', 1));
    const patterns = patternsOf(frame);
    const kiosk = production.Kiosk.create({ detector, recognizer, ...deployment() });
    kiosk.frameBuffer(W, H).set(frame);
    const result = kiosk.processFrame(W, H, Date.now());
    assert.equal(result.alerts.length, 1, 'the enrolled person raised an alert');
    const [alert] = result.alerts;
    assert.ok(scan(patterns)['probe crop (RGBA)'] > 0, 'the scan finds the probe crop while the alert waits for review');
    alert.probe.fill(0);
    kiosk.reviewAlert(alert.id, 'reject', 'A. Reviewer');
    kiosk.stop();
    assert.deepEqual(scan(patterns), none(patterns), 'nothing of the face is left once it is reviewed and gone');
    kiosk.free();
  });

  test('enrolFromFrame (demo mode) leaves no frame pixels or crop behind', () => {
    const frame = cameraFrame(photo('Colin_Powell', 1));
    const patterns = patternsOf(frame);
    const kiosk = production.Kiosk.create({ detector, recognizer });
    kiosk.frameBuffer(W, H).set(frame);
    assert.equal(kiosk.enrollFromFrame(W, H, 'Visitor'), 1);
    const found = scan(patterns);
    assert.equal(found['frame pixels'], 0, 'no frame pixels');
    assert.equal(found['aligned crop (RGB)'], 0, 'no aligned crop');
    kiosk.free();
  });
});
