// The campaigner's static bundle: `tools/build-dist` (make dist) writes dist/static/, which a plain
// static file server (Python's http.server, no CSP header, no MIME tricks of ours) hosts. In
// Chromium with a fake camera the demo runs end to end (models load, "Enrol me", an alert), the
// page's own CSP <meta> blocks a cross-origin fetch, and after the server is gone the kiosk loads
// again from its service worker's cache. SHA256SUMS lists every file with its hash.

import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import { fakeCamera, haveLfw, launchWithCamera, lfw, repo, staticServer } from '../harness.mjs';

const haveData = haveLfw('the static bundle tests');
const dist = join(repo, 'dist/static');


describe('make dist', () => {
  let scratch;
  before(() => {
    execFileSync(join(repo, 'tools/build-dist'), { stdio: 'inherit' });
    scratch = mkdtempSync(join(tmpdir(), 'veilwatch-dist-'));
  });
  after(() => rmSync(scratch, { recursive: true, force: true }));

  test('SHA256SUMS names every file of the bundle with its SHA-256, models and both engine builds included', () => {
    const lines = readFileSync(join(dist, 'SHA256SUMS'), 'utf8').trim().split('\n');
    const files = execFileSync('find', ['.', '-type', 'f', '!', '-name', 'SHA256SUMS', '-printf', '%P\n'], { cwd: dist, encoding: 'utf8' })
      .trim().split('\n').sort();
    assert.deepEqual(lines.map((l) => l.slice(66)).sort(), files);
    for (const line of lines) {
      const [sha, file] = [line.slice(0, 64), line.slice(66)];
      assert.equal(createHash('sha256').update(readFileSync(join(dist, file))).digest('hex'), sha, file);
    }
    for (const file of ['index.html', 'sw.js', 'pkg/veilwatch_bg.wasm', 'pkg/veilwatch_relaxed_bg.wasm',
      'models/face_detection_yunet_2023mar_int8bq.onnx', 'models/face_recognition_sface_2021dec_int8bq.onnx']) {
      assert.ok(files.includes(file), file);
    }
  });

  test('served by a plain static server, the demo runs end to end, and offline after the first load', { skip: !haveData }, async (t) => {
    const { origin, server } = await staticServer(dist);
    t.after(() => server.kill());
    const camera = fakeCamera(join(scratch, 'camera.y4m'), [join(lfw, 'Colin_Powell/Colin_Powell_0001.jpg')], 60);
    const browser = await launchWithCamera(camera);
    t.after(() => browser.close());
    const page = await browser.newPage();
    const requests = [];
    page.context().on('request', (request) => requests.push(`${request.method()} ${request.url()}`));

    await page.goto(`${origin}/`);
    await page.waitForFunction(() => /Models loaded/.test(document.getElementById('status').textContent), null, { timeout: 60_000 });
    const blocked = await page.evaluate(() => fetch('http://127.0.0.1:9/').then(() => 'sent', (e) => e.name));
    assert.equal(blocked, 'TypeError', 'the CSP <meta> keeps fetches on this origin');
    await page.click('#start');
    await page.waitForFunction(() => !document.getElementById('enrol').disabled, null, { timeout: 30_000 });
    await page.click('#enrol');
    await page.waitForFunction(() => document.querySelectorAll('#alert-list li').length > 0, null, { timeout: 60_000 });
    assert.match(await page.textContent('#alert-list'), /Volunteer/);
    // (blob: URLs are the page's own in-memory images, such as the alert's probe crop.)
    const foreign = requests.filter((r) => !r.startsWith(`GET ${origin}/`) && !r.startsWith(`GET blob:${origin}/`));
    assert.deepEqual(foreign, [], 'only GETs of the bundle\'s own files');

    // Offline: the service worker has cached the application; the server goes away and the kiosk
    // loads again, models included.
    await page.waitForFunction(async () => (await navigator.serviceWorker.ready).active?.state === 'activated', null, { timeout: 30_000 });
    await page.waitForFunction(async () => {
      const names = await caches.keys();
      const cache = names.length === 1 && await caches.open(names[0]);
      return Boolean(cache && await cache.match('/models/face_recognition_sface_2021dec_int8bq.onnx'));
    }, null, { timeout: 30_000 });
    server.kill();
    await new Promise((resolve) => server.once('exit', resolve));
    await page.reload();
    await page.waitForFunction(() => /Models loaded/.test(document.getElementById('status').textContent), null, { timeout: 60_000 });
  });
});
