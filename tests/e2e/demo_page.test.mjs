// The demo page in a real browser (Debian chromium driven by playwright-core), with a fake camera
// that shows a real LFW photo: the Worker loads the wasm engine and the models from the same
// origin, faces are found and boxed, only same-origin requests are made, every response carries
// the CSP, and a refused camera gives a message instead of a blank page.

import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import { chromium } from 'playwright-core';

const repo = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const targetDir = process.env.CARGO_TARGET_DIR ?? join(process.env.HOME, '.cache/veilwatch/target');
const cli = process.env.VEILWATCH_BIN ?? join(targetDir, 'release/veilwatch');
const data = process.env.VEILWATCH_DATA ?? join(repo, '../shared/data');
const photo = join(data, 'lfw/images/Aaron_Sorkin/Aaron_Sorkin_0001.jpg');
const artifacts = join(repo, 'tests/e2e/artifacts');
const chromiumPath = process.env.CHROMIUM ?? '/usr/bin/chromium';

const haveData = existsSync(photo);
if (!haveData) {
  if (process.env.CI === 'true') throw new Error(`LFW data not found at ${photo}; CI=true requires it`);
  console.error(`\n!!! SKIPPED: LFW data not found at ${photo} (set VEILWATCH_DATA); the browser demo test did not run !!!\n`);
}

const freePort = () => new Promise((ok) => {
  const s = createServer().listen(0, '127.0.0.1', () => { const { port } = s.address(); s.close(() => ok(port)); });
});

async function waitForServer(origin) {
  for (let i = 0; i < 100; i++) {
    try { if ((await fetch(origin)).ok) return; } catch { /* not yet */ }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`veilwatch serve did not come up at ${origin}`);
}

const launch = (extraArgs) => chromium.launch({
  executablePath: chromiumPath,
  args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
    '--disable-component-update', '--disable-sync', ...extraArgs],
});

describe('demo page: camera → worker → boxes', { skip: !haveData }, () => {
  let server;
  let origin;
  let scratch;
  before(async () => {
    scratch = mkdtempSync(join(tmpdir(), 'veilwatch-demo-'));
    // A 640×480 fake camera showing the photo centred on grey, 3 s at 10 fps.
    execFileSync('ffmpeg', ['-loglevel', 'error', '-y', '-loop', '1', '-i', photo, '-t', '3', '-r', '10',
      '-vf', 'scale=-2:480,pad=640:480:(ow-iw)/2:0:gray', '-pix_fmt', 'yuv420p', join(scratch, 'camera.y4m')]);
    const port = await freePort();
    origin = `http://127.0.0.1:${port}`;
    server = spawn(cli, ['serve', '--listen', `127.0.0.1:${port}`, '--mount', `/=${join(repo, 'www')}`,
      '--mount', `/pkg=${join(repo, 'pkg')}`, '--mount', `/models=${join(repo, 'models')}`], { stdio: 'ignore' });
    await waitForServer(origin);
  });
  after(() => {
    server?.kill();
    rmSync(scratch, { recursive: true, force: true });
  });

  test('finds the face on the fake camera, same-origin requests only, CSP on every response', async () => {
    const browser = await launch(['--use-fake-ui-for-media-stream', '--use-fake-device-for-media-stream',
      `--use-file-for-fake-video-capture=${join(scratch, 'camera.y4m')}`]);
    try {
      const page = await browser.newPage();
      const requests = [];
      const csp = [];
      page.on('request', (r) => requests.push(r.url()));
      page.on('response', (r) => csp.push([r.url(), r.headers()['content-security-policy']]));
      const consoleErrors = [];
      page.on('console', (m) => { if (m.type() === 'error') consoleErrors.push(m.text()); });
      await page.goto(origin);
      await page.waitForFunction(() => !document.getElementById('start').disabled, null, { timeout: 120_000 });
      await page.click('#start');
      await page.waitForFunction(() => Number(document.getElementById('faces-seen').textContent) >= 3, null, { timeout: 60_000 });
      assert.match(await page.textContent('#faces-summary'), /1 face in view/);
      assert.doesNotMatch(await page.textContent('#status'), /fail|could not/i);
      mkdirSync(artifacts, { recursive: true });
      await page.screenshot({ path: join(artifacts, 'demo-detection.png') });

      const foreign = requests.filter((u) => !u.startsWith(`${origin}/`));
      assert.deepEqual(foreign, [], 'only same-origin requests');
      for (const [url, header] of csp) assert.match(header ?? '', /default-src 'self'.*connect-src 'self'/, `${url} lacks the CSP`);
      assert.ok(requests.some((u) => u.endsWith('.wasm')), 'the wasm engine was loaded');
      assert.deepEqual(consoleErrors, []);
    } finally {
      await browser.close();
    }
  });

  test('a refused camera is explained on the page', async () => {
    const browser = await launch([]);
    try {
      const context = await browser.newContext();
      await context.grantPermissions([], { origin });
      const page = await context.newPage();
      await page.goto(origin);
      await page.waitForFunction(() => !document.getElementById('start').disabled, null, { timeout: 120_000 });
      await page.click('#start');
      await page.waitForFunction(() => document.getElementById('status').classList.contains('error'), null, { timeout: 30_000 });
      assert.match(await page.textContent('#status'), /Camera permission was refused|No camera was found/);
      assert.equal(await page.isDisabled('#start'), false, 'the operator can try again');
    } finally {
      await browser.close();
    }
  });
});
