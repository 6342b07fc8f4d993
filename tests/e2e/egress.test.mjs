// The egress check (tests/egress.mjs) can fail: it is run on the real kiosk in Chromium, once as
// shipped (nothing flagged) and once per mutation of its detection Worker (the Worker each camera
// frame reaches first: www/detect-worker.js) that makes it leak a passer-by's frame — to its own origin in a POST body, to its own origin inside a file path, and to
// the authority in place of a blinded query. Each mutation must be flagged, on every run. Every
// other browser test runs the same check on everything its pages send (the harness's browsers).

import { copyFileSync, cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import { fakeCamera, freePort, haveLfw, launchWithCamera, lfw, repo, serveKiosk } from '../harness.mjs';

const haveData = haveLfw('the egress mutation tests');

/** Where each mutation goes: right after the frame's pixels are written into the detector. */
const MUTATED = 'detect-worker.js';
const ANCHOR = 'detector.frameBuffer(width, height).set(image.data);';

const MUTATIONS = {
  'the frame POSTed to the kiosk\'s own origin': () =>
    `fetch('/kiosk/upload', { method: 'POST', body: image.data.slice(0, 65536) }).catch(() => {});`,
  'frame bytes in the path of a GET to its own origin': () =>
    `fetch('/models/' + Array.from(image.data.slice(0, 64), (b) => b.toString(16).padStart(2, '0')).join('')).catch(() => {});`,
  'frame bytes sent to the authority as a /v1/evaluate body': (authority) =>
    `fetch('${authority}/v1/evaluate', { method: 'POST', headers: { 'content-type': 'application/octet-stream' }, body: image.data.slice(0, 1024 * 32) }).catch(() => {});`,
};

describe('the egress check catches a kiosk that leaks a frame', { skip: !haveData }, () => {
  let scratch;
  let camera;
  let authority;
  const servers = [];

  before(async () => {
    scratch = mkdtempSync(join(tmpdir(), 'veilwatch-egress-'));
    camera = fakeCamera(join(scratch, 'face.y4m'), [join(lfw, 'Tony_Blair/Tony_Blair_0002.jpg')], 3);
    // An authority origin the page's CSP allows; nothing needs to answer there for the request to be seen.
    authority = `http://127.0.0.1:${await freePort()}`;
  });
  after(() => {
    servers.forEach((s) => s.kill());
    rmSync(scratch, { recursive: true, force: true });
  });

  /** Runs the kiosk app from `www` in demo mode until it has processed a few frames of a face;
   * returns every egress violation its browser recorded, taken once the browser is closed (so that
   * none arrives late and is left to fail the file). */
  async function runKiosk(www) {
    const { origin, process } = await serveKiosk(['--authority', authority], { www });
    servers.push(process);
    const browser = await launchWithCamera(camera);
    try {
      const page = await browser.newPage();
      await page.goto(origin);
      await page.waitForFunction(() => !document.getElementById('start').disabled, null, { timeout: 120_000 });
      await page.click('#start');
      await page.waitForFunction(() => Number(document.getElementById('faces-processed')?.textContent) >= 3, null, { timeout: 60_000 });
      await page.waitForTimeout(500);
    } catch (error) {
      await browser.close();
      throw error;
    }
    return browser.closeTakingViolations();
  }

  function mutatedApp(name, code) {
    const www = join(scratch, name.replace(/\W+/g, '-'));
    cpSync(join(repo, 'www'), www, { recursive: true });
    const worker = readFileSync(join(www, MUTATED), 'utf8');
    assert.ok(worker.includes(ANCHOR), 'the Worker still writes frames where the mutation goes');
    writeFileSync(join(www, MUTATED), worker.replace(ANCHOR, `${ANCHOR}\n      ${code}`));
    return www;
  }

  test('the kiosk as shipped: every request it makes is allowed', async () => {
    const www = join(scratch, 'as-shipped');
    cpSync(join(repo, 'www'), www, { recursive: true });
    copyFileSync(join(repo, 'www', MUTATED), join(www, MUTATED));
    assert.deepEqual(await runKiosk(www), []);
  });

  for (const [name, mutation] of Object.entries(MUTATIONS)) {
    test(`mutation: ${name} — flagged`, async () => {
      const violations = await runKiosk(mutatedApp(name, mutation(authority)));
      console.log(`egress check on "${name}": ${violations.length} violation(s); first: ${violations[0]}`);
      assert.ok(violations.length > 0, 'the egress check flags the leaking Worker');
    });
  }
});
