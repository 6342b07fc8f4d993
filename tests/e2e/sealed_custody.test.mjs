// Sealed custody end to end with the wasm kiosk (DESIGN §3.4, src/wasm/sealed.rs `SealedCustody`)
// against a real `veilwatch authority` holding a sealed registration made with the CLI (`enroll
// --custody sealed`, `registration deployment --sealed`), on real LFW faces: the kiosk's BFV key is
// made in wasm and never leaves it; every request is POSTed with `fetch` and signed with a
// non-extractable WebCrypto Ed25519 kiosk key (www/kiosk/authority-client.js, as the Worker signs
// VOPRF requests). A listed person's other photo releases their record, which opens in wasm; a
// stranger releases nothing; an authority's refusal surfaces as an Error with a code; and a face
// whose answer never came ends cleanly. Runs in node and in headless Chromium (a page on the kiosk's
// origin, whose CSP lets it reach the authority only, fetching with its own non-extractable key),
// with pkg-bench/ (the production package plus the `bench-api` call that gives the photo's
// embedding, which the kiosk's own pipeline would hand over inside wasm).

import { execFileSync, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import { chromium } from 'playwright-core';

import { chromiumPath, cli, freePort, haveLfw, lfw, repo, serveKiosk } from '../harness.mjs';
import { signedFetch } from '../../www/kiosk/authority-client.js';

const haveData = haveLfw('the sealed custody tests');
const veilwatch = (...args) => execFileSync(cli, ['--models', join(repo, 'models'), ...args], { encoding: 'utf8', stdio: 'pipe' });
const photo = (name, i) => join(lfw, name, `${name}_${String(i).padStart(4, '0')}.jpg`);

// Listed: the first photo of each; the probe of a listed person is Colin Powell's second photo.
const LISTED = ['Colin_Powell', 'Tony_Blair', 'Hugo_Chavez', 'Abdoulaye_Wade', 'Bono', 'Kathy_Baker'];
const STRANGER = photo('Aaron_Sorkin', 1);

const { initSync, Engine, SealedCustody } = await import(join(repo, 'pkg-bench/veilwatch.js'));
initSync({ module: readFileSync(join(repo, 'pkg-bench/veilwatch_bg.wasm')) });

/** The embedding of the face `jpeg` shows, computed in wasm (the photo decoded to RGBA by Pillow). */
function embeddingOf(engine, jpeg, scratch) {
  const raw = join(scratch, 'photo.rgba');
  const size = execFileSync('python3', ['-c', `
import sys
from PIL import Image
im = Image.open(sys.argv[1]).convert("RGBA")
open(sys.argv[2], "wb").write(im.tobytes())
print(im.width, im.height)
`, jpeg, raw], { encoding: 'utf8' }).trim().split(' ').map(Number);
  return Float32Array.from(engine.embeddingOf(new Uint8Array(readFileSync(raw)), size[0], size[1]));
}

const cosine = (a, b) => a.reduce((s, x, i) => s + x * b[i], 0) / Math.hypot(...a) / Math.hypot(...b);

/** A kiosk key as kiosk-key.js keeps it: a non-extractable Ed25519 pair and its public key, hex. */
async function kioskKey() {
  const pair = await crypto.subtle.generateKey({ name: 'Ed25519' }, false, ['sign', 'verify']);
  const publicHex = Buffer.from(await crypto.subtle.exportKey('raw', pair.publicKey)).toString('hex');
  return { pair, publicHex };
}

/** Starts `veilwatch authority`; resolves with its origin and process once it answers. */
async function startAuthority(args, port) {
  const origin = `http://127.0.0.1:${port}`;
  const child = spawn(cli, ['authority', '--admin-listen', '127.0.0.1:0', '--listen', `127.0.0.1:${port}`, ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d) => { stderr += d; });
  for (let i = 0; i < 200; i++) {
    try {
      await fetch(`${origin}/v1/health`);
      return { origin, child };
    } catch {
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  child.kill();
  throw new Error(`veilwatch authority did not come up at ${origin}: ${stderr}`);
}

/** One face through `custody`, each request signed and POSTed with fetch; the outcome. */
async function identify(custody, embedding, { origin, deploymentHex, key }) {
  let step = custody.startFace(embedding);
  const sent = [];
  while (step.kind === 'send') {
    sent.push(step.path);
    let answer;
    try {
      const response = await signedFetch(origin, { path: step.path, body: step.body, deploymentHex, kioskKey: key, timeoutMs: 120_000 });
      answer = new Uint8Array(await response.arrayBuffer());
    } catch (refusal) {
      custody.failRequest(refusal.message); // always throws, with the reason and a code
    }
    step = custody.onAnswer(answer);
  }
  return { ...step, sent };
}

describe('sealed custody: the wasm kiosk against a real authority', { skip: !haveData }, () => {
  let scratch;
  let authority;
  let deploymentHex;
  let key;
  let engine;
  let kiosk;
  let browser;
  let page;
  const embeddings = {};

  before(async () => {
    scratch = mkdtempSync(join(tmpdir(), 'veilwatch-sealed-e2e-'));
    const keys = join(scratch, 'keys');
    veilwatch('keygen', '--out', keys);
    const people = join(scratch, 'people');
    for (const name of LISTED) {
      mkdirSync(join(people, name), { recursive: true });
      symlinkSync(photo(name, 1), join(people, name, `${name}_0001.jpg`));
    }
    const material = join(scratch, 'sealed.json');
    veilwatch('enroll', people, '--keys', keys, '--out', material, '--custody', 'sealed', '--per-identity', '1', '--decoy-rate', '0.5');
    const file = JSON.parse(readFileSync(material, 'utf8'));
    assert.equal(file.entries, LISTED.length);
    deploymentHex = file.deployment;
    key = await kioskKey();
    // The browser kiosk: a page on the kiosk's origin with its own key, made in the page.
    const authorityPort = await freePort();
    kiosk = await serveKiosk(['--authority', `http://127.0.0.1:${authorityPort}`, '--mount', `/pkg-bench=${join(repo, 'pkg-bench')}`]);
    browser = await chromium.launch({ executablePath: chromiumPath, args: ['--no-sandbox'] });
    page = await browser.newPage();
    await page.goto(`${kiosk.origin}/notice.html`);
    const pageKeyHex = await page.evaluate(async () => {
      const pair = await crypto.subtle.generateKey({ name: 'Ed25519' }, false, ['sign', 'verify']);
      const raw = new Uint8Array(await crypto.subtle.exportKey('raw', pair.publicKey));
      window.kioskKey = { pair, publicHex: Array.from(raw, (b) => b.toString(16).padStart(2, '0')).join('') };
      return window.kioskKey.publicHex;
    });
    const registration = join(scratch, 'registration.vwr');
    veilwatch('registration', 'deployment', '--keys', keys, '--sealed', material, '--kiosk-key', key.publicHex, '--kiosk-key', pageKeyHex,
      '--faces-per-minute', '100', '--faces-per-day', '1000', '--faces-total', '10000', '--disclosures-per-hour', '10', '--out', registration);
    authority = await startAuthority(['--keys', join(keys, 'authority'), '--register', registration,
      '--state', join(scratch, 'state.sqlite3'), '--request-timeout', '120', '--allow-origin', kiosk.origin], authorityPort);

    engine = new Engine(readFileSync(join(repo, 'models/face_detection_yunet_2023mar_int8bq.onnx')),
      readFileSync(join(repo, 'models/face_recognition_sface_2021dec_int8bq.onnx')));
    embeddings.listed = embeddingOf(engine, photo('Colin_Powell', 2), scratch);
    embeddings.stranger = embeddingOf(engine, STRANGER, scratch);
    // The premises: the probe is clearly Colin Powell, the stranger clearly nobody listed.
    const enrolled = LISTED.map((name) => embeddingOf(engine, photo(name, 1), scratch));
    assert.ok(cosine(embeddings.listed, enrolled[0]) > 0.45, `Colin Powell's two photos: ${cosine(embeddings.listed, enrolled[0])}`);
    for (const e of enrolled) assert.ok(cosine(embeddings.stranger, e) < 0.25, 'the stranger is unlike everyone listed');
  });
  after(async () => {
    await browser?.close();
    kiosk?.process.kill();
    authority?.child.kill();
    engine?.free();
    rmSync(scratch, { recursive: true, force: true });
  });

  test('a listed face releases its record, which opens in wasm; a stranger releases nothing', async () => {
    const custody = new SealedCustody(deploymentHex);
    try {
      const at = { origin: authority.origin, deploymentHex, key };
      const found = await identify(custody, embeddings.listed, at);
      assert.equal(found.kind, 'done');
      assert.deepEqual(found.sent.slice(0, 3), ['/v1/sealed/seed', '/v1/sealed/keys', '/v1/sealed/seed'], 'the first face registers a key pair');
      assert.ok(found.claimed >= 1, 'the listed row is positive and claimed');
      assert.deepEqual(found.matches.map((m) => m.record.label), ['Colin Powell']);
      assert.match(found.matches[0].handle, /^[0-9a-f]{32}$/);
      assert.ok(found.bytesUp > 100_000 && found.keysBytesUp > 1_000_000 && found.bytesDown > 100_000, JSON.stringify({ ...found, matches: undefined }));

      const stranger = await identify(custody, embeddings.stranger, at);
      assert.equal(stranger.kind, 'done');
      assert.deepEqual(stranger.matches, [], 'a stranger releases nothing');
      // After a positive claim the kiosk re-keys before its next face.
      assert.deepEqual(stranger.sent.slice(0, 2), ['/v1/sealed/seed', '/v1/sealed/keys']);
      assert.ok(stranger.sent.includes('/v1/sealed/claim'), 'every answer is claimed, an empty claim included');
    } finally {
      custody.free();
    }
  });

  test('in Chromium: a page drives SealedCustody with fetch, signed with its own key; the listed face is released, the stranger is not', async () => {
    const outcomes = await page.evaluate(async ({ origin, deploymentHex, faces }) => {
      const glue = await import('/pkg-bench/veilwatch.js');
      await glue.default({ module_or_path: '/pkg-bench/veilwatch_bg.wasm' });
      const { signedFetch } = await import('/kiosk/authority-client.js');
      const custody = new glue.SealedCustody(deploymentHex);
      const out = [];
      try {
        for (const embedding of faces) {
          let step = custody.startFace(Float32Array.from(embedding));
          const sent = [];
          while (step.kind === 'send') {
            sent.push(step.path);
            const response = await signedFetch(origin, { path: step.path, body: step.body, deploymentHex, kioskKey: window.kioskKey, timeoutMs: 120_000 });
            step = custody.onAnswer(new Uint8Array(await response.arrayBuffer()));
          }
          out.push({ claimed: step.claimed, labels: step.matches.map((m) => m.record.label), sent });
        }
      } finally {
        custody.free();
      }
      return out;
    }, { origin: authority.origin, deploymentHex, faces: [Array.from(embeddings.listed), Array.from(embeddings.stranger)] });
    assert.deepEqual(outcomes[0].labels, ['Colin Powell'], JSON.stringify(outcomes[0]));
    assert.ok(outcomes[0].claimed >= 1);
    assert.deepEqual(outcomes[0].sent.slice(0, 2), ['/v1/sealed/seed', '/v1/sealed/keys']);
    assert.deepEqual(outcomes[1].labels, [], 'a stranger releases nothing');
    assert.ok(outcomes[1].sent.includes('/v1/sealed/claim'));
  });

  test('a refusal or a missing answer ends the face with an Error a person can read, and the next face works', async () => {
    const custody = new SealedCustody(deploymentHex);
    try {
      // Another kiosk key, not registered: the authority refuses the first request.
      const stranger = await kioskKey();
      await assert.rejects(identify(custody, embeddings.stranger, { origin: authority.origin, deploymentHex, key: stranger }),
        (e) => e.code === 'AUTHORITY_REFUSED' && /401|unauthori[sz]ed/i.test(e.message));
      assert.equal(custody.inProgress(), false);
      // A garbled answer: refused with a code, the face ends.
      custody.startFace(embeddings.stranger);
      assert.throws(() => custody.onAnswer(new Uint8Array(7)), (e) => e.code === 'SEALED_MALFORMED_ANSWER' && /malformed/.test(e.message));
      assert.throws(() => custody.onAnswer(new Uint8Array(48)), (e) => e.code === 'SEALED_NO_FACE_IN_PROGRESS');
      assert.throws(() => new SealedCustody('not hex'), (e) => e.code === 'OPTIONS_INVALID');
      assert.throws(() => custody.startFace(new Float32Array(12)), (e) => e.code === 'OPTIONS_INVALID');
      const fine = await identify(custody, embeddings.stranger, { origin: authority.origin, deploymentHex, key });
      assert.deepEqual(fine.matches, []);
    } finally {
      custody.free();
    }
  });
});
