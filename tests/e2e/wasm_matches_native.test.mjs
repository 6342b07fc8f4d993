// The wasm build (pkg-bench/: the production package plus the `bench-api` calls) against the native build on the same
// real photos: same detections, same embeddings (compared inside wasm, so no embedding crosses the
// boundary), and every bad input surfaces as a JS Error with a readable message and a stable `code`,
// never a trap.

import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import { cli, haveLfw, lfw, repo } from '../harness.mjs';

const detectorFile = join(repo, 'models/face_detection_yunet_2023mar_int8bq.onnx');
const recognizerFile = join(repo, 'models/face_recognition_sface_2021dec_int8bq.onnx');

const haveData = haveLfw('the photo tests');

// VEILWATCH_WASM_VARIANT=relaxed-simd tests the relaxed-SIMD build instead (`make e2e` runs both).
const wasmFile = { simd128: 'veilwatch_bg.wasm', 'relaxed-simd': 'veilwatch_relaxed_bg.wasm' }[process.env.VEILWATCH_WASM_VARIANT ?? 'simd128'];
if (!wasmFile) throw new Error('VEILWATCH_WASM_VARIANT must be simd128 or relaxed-simd');
const { initSync, Engine, Kiosk } = await import(join(repo, 'pkg-bench/veilwatch.js'));
initSync({ module: readFileSync(join(repo, 'pkg-bench', wasmFile)) });
const detectorBytes = readFileSync(detectorFile);
const recognizerBytes = readFileSync(recognizerFile);
const engine = new Engine(detectorBytes, recognizerBytes);

// Photos decoded once by Pillow into PNG (lossless, read by the native CLI) and raw RGBA (for wasm),
// so both builds see identical pixels.
function photos(count) {
  const people = readdirSync(lfw).sort().filter((_, i) => i % 97 === 0).slice(0, count);
  return people.map((p) => join(lfw, p, readdirSync(join(lfw, p)).sort()[0]));
}

describe('wasm and native builds agree on real photos', { skip: !haveData }, () => {
  let scratch;
  let cases;
  before(() => {
    scratch = mkdtempSync(join(tmpdir(), 'veilwatch-wasm-'));
    const jpegs = photos(8);
    execFileSync('python3', ['-c', `
import sys
from PIL import Image
out = sys.argv[1]
photos = [Image.open(path).convert("RGB") for path in sys.argv[2:]]
# Beyond the photos themselves: a 640x480 camera-sized frame holding two of them, and an odd-sized
# frame, so the detector also runs at sizes whose matrix products end in partial tiles.
canvas = Image.new("RGB", (640, 480), (96, 96, 96))
canvas.paste(photos[0], (37, 101))
canvas.paste(photos[1], (350, 190))
frames = photos + [canvas, photos[2].resize((333, 251))]
for i, im in enumerate(frames):
    im.save(f"{out}/{i}.png")
    open(f"{out}/{i}.rgba", "wb").write(im.convert("RGBA").tobytes())
`, scratch, ...jpegs]);
    const pngs = [...jpegs, 'canvas', 'odd'].map((_, i) => join(scratch, `${i}.png`));
    const native = JSON.parse(execFileSync(cli, ['--models', join(repo, 'models'), 'embed', ...pngs], { maxBuffer: 1 << 26 }));
    const nativeAll = JSON.parse(execFileSync(cli, ['--models', join(repo, 'models'), 'detect', '--json', ...pngs], { maxBuffer: 1 << 26 }));
    cases = pngs.map((png, i) => ({
      png,
      rgba: new Uint8Array(readFileSync(join(scratch, `${i}.rgba`))),
      width: nativeAll[i].width,
      height: nativeAll[i].height,
      faces: nativeAll[i].faces,
      embedding: Float32Array.from(native[i].embedding),
    }));
  });
  after(() => rmSync(scratch, { recursive: true, force: true }));

  test('same faces, boxes, landmarks and scores', () => {
    for (const c of cases) {
      const faces = engine.detect(c.rgba, c.width, c.height);
      assert.equal(faces.length, c.faces.length, `${c.png}: face count`);
      faces.forEach((f, k) => {
        const n = c.faces[k];
        f.box.forEach((v, j) => assert.ok(Math.abs(v - n.box[j]) < 1e-3, `${c.png}: box ${f.box} vs ${n.box}`));
        f.landmarks.flat().forEach((v, j) => assert.ok(Math.abs(v - n.landmarks.flat()[j]) < 1e-3, `${c.png}: landmarks`));
        assert.ok(Math.abs(f.score - n.score) < 1e-5, `${c.png}: score ${f.score} vs ${n.score}`);
      });
    }
  });

  test('same embeddings (cosine ≥ 0.9999 with the native one)', () => {
    for (const c of cases) {
      const cosine = engine.cosineWithReference(c.rgba, c.width, c.height, c.embedding);
      assert.ok(cosine >= 0.9999, `${c.png}: cosine ${cosine}`);
    }
  });

  test('analyse returns faces with quality but no embedding', () => {
    const c = cases[0];
    const faces = engine.analyse(c.rgba, c.width, c.height);
    assert.ok(faces.length >= 1);
    const keys = Object.keys(faces[0]).sort();
    assert.deepEqual(keys, ['box', 'landmarks', 'quality', 'score']);
    assert.equal(typeof faces[0].quality.sharpness, 'number');
    assert.ok(Array.isArray(faces[0].quality.rejections));
  });
});

describe('bad input is a JS Error with a message a person understands and a stable code', () => {
  const throwsError = (fn, code, pattern) => assert.throws(fn, (e) => e instanceof Error && e.code === code && pattern.test(e.message));

  test('a frame buffer of the wrong length', () => {
    throwsError(() => engine.detect(new Uint8Array(640 * 480 * 3), 640, 480), 'FRAME_INVALID', /needs 1228800 \(width × height × 4\)/);
  });
  test('a frame without pixels or too large', () => {
    throwsError(() => engine.detect(new Uint8Array(0), 0, 0), 'FRAME_INVALID', /no pixels/);
    throwsError(() => engine.detect(new Uint8Array(4), 9000, 1), 'FRAME_INVALID', /larger than 8192/);
  });
  test('odd frame sizes work and a flat frame has no faces', () => {
    for (const [w, h] of [[1, 1], [31, 33], [333, 17]]) {
      assert.deepEqual(engine.detect(new Uint8Array(w * h * 4).fill(90), w, h), []);
    }
  });
  test('no face to compare', () => {
    throwsError(() => engine.cosineWithReference(new Uint8Array(64 * 64 * 4), 64, 64, new Float32Array(128).fill(1)), 'NO_FACE', /no face/);
  });
  test('a truncated, corrupted or swapped model', () => {
    const flipped = Uint8Array.from(detectorBytes);
    flipped[1000] ^= 1;
    throwsError(() => new Engine(detectorBytes.subarray(0, 5000), recognizerBytes), 'MODEL_MISMATCH', /face detector .*SHA-256.*models\/fetch/);
    throwsError(() => new Engine(flipped, recognizerBytes), 'MODEL_MISMATCH', /face detector .*not the expected one/);
    throwsError(() => new Engine(detectorBytes, detectorBytes), 'MODEL_MISMATCH', /face recogniser .*not the expected one/);
  });
  test('a malformed reference embedding or crop', () => {
    throwsError(() => engine.cosineWithReference(new Uint8Array(4), 1, 1, new Float32Array(3)), 'OPTIONS_INVALID', /128 finite numbers/);
    throwsError(() => engine.benchmarkEmbedding(new Uint8Array(10)), 'OPTIONS_INVALID', /112×112 RGB/);
  });
  test('Kiosk.create explains a missing or malformed option', () => {
    throwsError(() => Kiosk.create({ recognizer: recognizerBytes }), 'OPTIONS_INVALID', /missing field `detector`/);
    throwsError(() => Kiosk.create({ detector: 'yunet.onnx', recognizer: recognizerBytes }), 'OPTIONS_INVALID', /"yunet.onnx", expected byte array/);
    throwsError(() => Kiosk.create({ detector: detectorBytes, recognizer: recognizerBytes, watchlist: new Uint8Array(10) }), 'OPTIONS_INVALID', /issuerKey .* is required/);
    throwsError(() => Kiosk.create({ detector: detectorBytes, recognizer: recognizerBytes, watchlist: new Uint8Array(10), issuerKey: 'ab'.repeat(32), custody: { kind: 'cloud' } }), 'OPTIONS_INVALID', /unknown variant `cloud`, expected one of `local`, `authority`, `sealed`/);
    throwsError(() => Kiosk.create({ detector: detectorBytes, recognizer: recognizerBytes, watchlist: new Uint8Array(10), issuerKey: 'ab'.repeat(32), custody: { kind: 'local', prfKey: 'cd'.repeat(32) } }), 'KEY_INVALID', /not a valid Ed25519/);
    const kiosk = Kiosk.create({ detector: detectorBytes, recognizer: recognizerBytes });
    assert.equal(kiosk.status().matching, false);
  });
  test('the engine still works after errors', () => {
    assert.deepEqual(engine.detect(new Uint8Array(32 * 32 * 4), 32, 32), []);
  });
});
