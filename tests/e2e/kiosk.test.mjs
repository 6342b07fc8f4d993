// The kiosk in a real browser (Debian chromium via playwright-core) with a fake camera made by
// ffmpeg from LFW photos: an enrolled person is alerted on and reviewed, strangers are not, the
// demo's "Enrol me" works, bad watchlists and expired profiles are refused in words, only
// same-origin requests are made and a cross-origin fetch is blocked by the CSP. `make e2e` runs
// this inside a network namespace with loopback only (unshare -n).

import { execFileSync, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import { chromium } from 'playwright-core';

import {
  chromiumPath, cli, createKioskKey, fakeCamera as camera, freePort, haveLfw, launchWithCamera as launch, lfw, moduleGraph, repo, serveKiosk,
} from '../harness.mjs';
import { watchBrowser } from '../egress.mjs';

const artifacts = join(repo, 'tests/e2e/artifacts');
const ENROLLED = 'Colin_Powell';
const STRANGERS = ['Aaron_Sorkin', 'Abdullah_Gul', 'Andre_Agassi', 'Laura_Bush'];

const haveData = haveLfw('the kiosk browser tests');

const photo = (name, i) => join(lfw, name, `${name}_${String(i).padStart(4, '0')}.jpg`);

// The cache name and the application list www/sw.js declares.
function serviceWorkerCache() {
  const source = readFileSync(join(repo, 'www/sw.js'), 'utf8');
  const name = source.match(/const CACHE = '([^']+)';/)[1];
  const app = [...source.match(/const APP = \[([^\]]*)\];/)[1].matchAll(/'([^']+)'/g)].map((m) => m[1]);
  return { name, app };
}

const veilwatch = (...args) => execFileSync(cli, ['--models', join(repo, 'models'), ...args], { encoding: 'utf8' });

test('the service worker caches every script the kiosk page and its Worker load', () => {
  const { app } = serviceWorkerCache();
  // www/engine-wasm.js is served as /pkg/engine-wasm.js (tools/build-wasm copies it there). Besides
  // the app's own folders, every module the pages and the Worker import: the package's API among
  // them, since the page sits on it.
  const scripts = [...new Set([
    ...readdirSync(join(repo, 'www')).filter((f) => f.endsWith('.js') && f !== 'sw.js' && f !== 'engine-wasm.js').map((f) => `/${f}`),
    '/pkg/engine-wasm.js',
    ...readdirSync(join(repo, 'www/kiosk')).filter((f) => f.endsWith('.js')).map((f) => `/kiosk/${f}`),
    ...moduleGraph('kiosk.js'), ...moduleGraph('kiosk-worker.js'), ...moduleGraph('notice.js'),
  ])];
  assert.ok(scripts.includes('/api/create-kiosk.js') && scripts.length >= 12);
  assert.deepEqual(scripts.filter((s) => !app.includes(s)), [], 'www/sw.js lists every page script');
});

describe('kiosk', { skip: !haveData }, () => {
  let scratch;
  let server;
  let origin;
  let issuer;
  let prfKey;
  let keysDir;
  const requests = [];

  before(async () => {
    scratch = mkdtempSync(join(tmpdir(), 'veilwatch-kiosk-'));
    const keys = join(scratch, 'keys');
    issuer = veilwatch('keygen', '--out', keys).trim();
    prfKey = readFileSync(join(keys, 'secret', 'prf-local.key'), 'utf8').trim();
    // Enrol the watched person from still photos 2..=8, plus two other people as decoys.
    const people = join(scratch, 'people');
    for (const [name, from, to] of [[ENROLLED, 2, 8], ['Tony_Blair', 1, 5], ['Hugo_Chavez', 1, 5]]) {
      mkdirSync(join(people, name), { recursive: true });
      for (let i = from; i <= to; i++) symlinkSync(photo(name, i), join(people, name, `${name}_${String(i).padStart(4, '0')}.jpg`));
    }
    const watchlist = join(scratch, 'list.vwl');
    veilwatch('enroll', people, '--keys', keys, '--out', watchlist, '--valid-until', '2099-01-01');
    veilwatch('enroll', people, '--keys', keys, '--out', join(scratch, 'oprf.vwl'), '--custody', 'authority', '--valid-until', '2099-01-01');
    keysDir = keys;
    const template = (from, until) => JSON.stringify({
      purpose: 'Browser test of the kiosk', legalBasis: 'Test data (LFW)', operator: 'Veilwatch CI', location: 'Headless chromium',
      validFrom: from, validUntil: until, threshold: 53, thresholdFloor: 50, custody: { kind: 'local' },
      queryRatePerMinute: 600, notice: 'Test deployment.', contact: 'ci@veilwatch.invalid',
    });
    writeFileSync(join(scratch, 'ok.json'), template('2020-01-01T00:00:00Z', '2099-01-01T00:00:00Z'));
    writeFileSync(join(scratch, 'expired.json'), template('2020-01-01T00:00:00Z', '2021-01-01T00:00:00Z'));
    veilwatch('profile', 'sign', '--keys', keys, '--watchlist', watchlist, '--template', join(scratch, 'ok.json'), '--out', join(scratch, 'ok.vwp'));
    veilwatch('profile', 'sign', '--keys', keys, '--watchlist', watchlist, '--template', join(scratch, 'expired.json'), '--out', join(scratch, 'expired.vwp'));
    const tampered = readFileSync(watchlist);
    tampered[tampered.length - 100] ^= 1;
    writeFileSync(join(scratch, 'tampered.vwl'), tampered);
    // A profile naming the tampered file, so that the watchlist's own signature check is reached.
    veilwatch('profile', 'sign', '--keys', keys, '--watchlist', join(scratch, 'tampered.vwl'), '--template', join(scratch, 'ok.json'), '--out', join(scratch, 'tampered.vwp'));

    camera(join(scratch, 'enrolled.y4m'), [photo(ENROLLED, 1)], 4);
    // The person comes and goes: photo, then an empty grey scene long enough to end the track.
    const grey = join(scratch, 'grey.jpg');
    execFileSync('ffmpeg', ['-loglevel', 'error', '-y', '-f', 'lavfi', '-i', 'color=gray:s=250x250', '-frames:v', '1', grey]);
    camera(join(scratch, 'comes-and-goes.y4m'), [photo(ENROLLED, 1), grey], 2.5);
    camera(join(scratch, 'strangers.y4m'), STRANGERS.map((n) => photo(n, 1)), 1.5);

    ({ origin, process: server } = await serveKiosk());
  });
  after(() => {
    server?.kill();
    rmSync(scratch, { recursive: true, force: true });
    const foreign = requests.filter((u) => !u.startsWith(`${origin}/`) && !u.startsWith('blob:') && !u.startsWith('data:'));
    assert.deepEqual(foreign, [], 'every request the kiosk made was same-origin');
  });

  async function openKiosk(cameraFile) {
    const browser = await launch(cameraFile);
    const page = await browser.newPage();
    page.on('request', (r) => requests.push(r.url()));
    page.on('response', (r) => {
      if (r.url().startsWith(origin)) assert.match(r.headers()['content-security-policy'] ?? '', /default-src 'self'.*connect-src 'self'/);
    });
    await page.goto(origin);
    await page.waitForFunction(() => !document.getElementById('start').disabled, null, { timeout: 120_000 });
    return { browser, page };
  }

  async function loadWatchlist(page, watchlist, profile, authority) {
    if (!(await page.isVisible('#watchlist-file'))) await page.click('details.operator summary');
    await page.setInputFiles('#watchlist-file', watchlist);
    if (profile) await page.setInputFiles('#profile-file', profile);
    await page.fill('#issuer-key', issuer);
    if (authority) await page.fill('#authority-url', authority);
    else await page.fill('#prf-key', prfKey);
    await page.click('#load');
  }

  test('an enrolled person seen in another photo raises one alert; the reviewer confirms it; the audit log records the decision, never the identity', async () => {
    const { browser, page } = await openKiosk(join(scratch, 'enrolled.y4m'));
    try {
      await loadWatchlist(page, join(scratch, 'list.vwl'), join(scratch, 'ok.vwp'));
      await page.waitForFunction(() => /Matching is on/.test(document.getElementById('status').textContent), null, { timeout: 30_000 });
      assert.equal(await page.inputValue('#prf-key'), '', 'once the engine holds the PRF key, the form no longer does');
      assert.match(await page.textContent('#watchlist-status'), /up to 64 entries \(the file reveals only its size class\) · custody hmac-sha256-local/);
      assert.match(await page.textContent('#false-alerts'), /per 1 000 passers-by/);
      assert.match(await page.textContent('#false-alerts'), /tracks that alert: \d+\.\d%/);
      const interval = String.raw`\(95% interval [\d.e+-]+–[\d.e+-]+; \d+ strangers\)`;
      assert.match(await page.textContent('#group-rates'), new RegExp(String.raw`Black-female [\d.e+-]+ ${interval} .* White-male [\d.e+-]+ ${interval}`));
      assert.match(await page.textContent('#group-rates'), /\(from .*relative to all UTKFace fillers/);
      assert.match(await page.textContent('#group-rates'), /female \d+\.\d% \(\d+ people\) · male \d+\.\d% \(\d+ people\)/);
      // The plot for this watchlist's size and threshold, marked at its m (53 for this list).
      await page.click('#operating-point summary');
      assert.equal(await page.locator('#operating-point-chart svg').count(), 1);
      assert.match(await page.textContent('#operating-point-chart'), /chosen m = 53/);
      await page.click('#start');
      await page.waitForSelector('li.alert', { timeout: 60_000 });
      // The file holds only the entry's handle: the label arrives with the disclosed material.
      await page.waitForFunction(() => /Colin Powell/.test(document.querySelector('li.alert').textContent), null, { timeout: 30_000 });
      assert.equal(await page.locator('li.alert').count(), 1, 'one alert per track, not per frame');
      mkdirSync(artifacts, { recursive: true });
      await page.screenshot({ path: join(artifacts, 'kiosk-alert.png'), fullPage: true });
      await page.fill('#reviewer', 'A. Reviewer');
      await page.click('li.alert button[data-decision="confirm"]');
      await page.waitForFunction(() => document.querySelectorAll('li.alert').length === 0, null, { timeout: 10_000 });
      const download = page.waitForEvent('download');
      await page.click('#export-audit');
      const file = join(scratch, 'audit.jsonl');
      await (await download).saveAs(file);
      const audit = readFileSync(file, 'utf8');
      assert.match(audit, /"kind":"alert"/);
      assert.match(audit, /"decision":"confirmed","reference_id":"REF-\d+","reviewer":"A. Reviewer"/);
      assert.doesNotMatch(audit, /Colin|photo|embedding/i, 'the audit log holds ids and counts, never identities or images');
      assert.match(veilwatch('audit', 'verify', file), /chain intact/);
      assert.match(await page.textContent('#processed-line'), /retained 0/);
    } finally {
      await browser.close();
    }
  });

  test('people who are not enrolled raise no alert; they are counted and nothing about them is retained', async () => {
    const { browser, page } = await openKiosk(join(scratch, 'strangers.y4m'));
    try {
      await loadWatchlist(page, join(scratch, 'list.vwl'), join(scratch, 'ok.vwp'));
      await page.waitForFunction(() => /Matching is on/.test(document.getElementById('status').textContent), null, { timeout: 30_000 });
      await page.click('#start');
      await page.waitForFunction(() => Number(document.getElementById('attempts').textContent) >= 6, null, { timeout: 90_000 });
      assert.equal(await page.locator('li.alert').count(), 0);
      assert.ok(Number(await page.textContent('#faces-processed')) >= 6);
      assert.equal(await page.textContent('#retained'), '0');
    } finally {
      await browser.close();
    }
  });

  test('Chromium, which has relaxed SIMD, gets the relaxed-SIMD engine build', async () => {
    const { browser, page } = await openKiosk(join(scratch, 'strangers.y4m'));
    try {
      assert.equal(await page.evaluate(async () => (await import('/pkg/engine-wasm.js')).engineWasmFile()), 'veilwatch_relaxed_bg.wasm');
      assert.ok(requests.includes(`${origin}/pkg/veilwatch_relaxed_bg.wasm`), 'the engine Worker fetched the relaxed-SIMD build');
    } finally {
      await browser.close();
    }
  });

  test('a cross-origin fetch from the page is blocked by the CSP', async () => {
    const { browser, page } = await openKiosk(null);
    try {
      const outcome = await page.evaluate(async () => {
        const violation = new Promise((ok) => document.addEventListener('securitypolicyviolation', (e) => ok(e.violatedDirective), { once: true }));
        const fetched = await fetch('http://127.0.0.2:9/exfiltrate', { method: 'POST', body: 'x' }).then(() => 'sent', (e) => `blocked: ${e.message}`);
        return { fetched, directive: await violation };
      });
      assert.match(outcome.fetched, /^blocked/);
      assert.equal(outcome.directive, 'connect-src');
    } finally {
      await browser.close();
    }
  });

  test('an expired profile and a tampered watchlist are refused in words; the kiosk keeps running without a watchlist', async () => {
    const { browser, page } = await openKiosk(null);
    try {
      await loadWatchlist(page, join(scratch, 'list.vwl'), join(scratch, 'expired.vwp'));
      await page.waitForFunction(() => document.getElementById('status').classList.contains('error'), null, { timeout: 30_000 });
      assert.match(await page.textContent('#status'), /refused: the deployment expired on 2021-01-01T00:00:00Z; ask the issuer for a new profile/);
      await page.reload();
      await page.waitForFunction(() => !document.getElementById('start').disabled, null, { timeout: 120_000 });
      await loadWatchlist(page, join(scratch, 'tampered.vwl'), join(scratch, 'tampered.vwp'));
      await page.waitForFunction(() => document.getElementById('status').classList.contains('error'), null, { timeout: 30_000 });
      assert.match(await page.textContent('#status'), /refused: .*(signature does not verify|altered)/);
      assert.match(await page.textContent('#watchlist-status'), /No watchlist loaded/);
      assert.equal(await page.isDisabled('#start'), false);
    } finally {
      await browser.close();
    }
  });

  test('the demo\'s "Enrol me" enrols the visitor and the kiosk then alerts for them', async () => {
    const { browser, page } = await openKiosk(join(scratch, 'enrolled.y4m'));
    try {
      await page.click('#start');
      await page.waitForFunction(() => Number(document.getElementById('faces-processed').textContent) >= 2, null, { timeout: 60_000 });
      await page.fill('#enrol-name', 'Demo Visitor');
      await page.click('#enrol');
      await page.waitForFunction(() => /enrolled/.test(document.getElementById('status').textContent), null, { timeout: 60_000 });
      assert.match(await page.textContent('#watchlist-status'), /up to 64 entries \(the file reveals only its size class\) · custody hmac-sha256-local \(local key: weaker/);
      await page.waitForSelector('li.alert', { timeout: 60_000 });
      assert.match(await page.textContent('li.alert'), /Demo Visitor/);
      // Announced in the assertive region and focused: the reviewer's keyboard is on its decisions.
      assert.match(await page.textContent('#alert-announce'), /^New alert \d+: waiting for a person to review it/);
      assert.equal(await page.getAttribute('#alert-announce', 'role'), 'alert');
      assert.ok(await page.evaluate(() => document.activeElement?.matches('li.alert')), 'the new alert has the focus');
      await page.screenshot({ path: join(artifacts, 'kiosk-demo-alert.png'), fullPage: true });
    } finally {
      await browser.close();
    }
  });

  test('authority custody: the kiosk alerts through veilwatch authority, sends it only blinded elements and signed requests, and keeps detecting when it goes down', async () => {
    const authorityPort = await freePort();
    const authorityOrigin = `http://127.0.0.1:${authorityPort}`;
    const { origin: kioskOrigin, process: kiosk } = await serveKiosk(['--authority', authorityOrigin]);
    let authority;
    const browser = await launch(join(scratch, 'comes-and-goes.y4m'));
    try {
      const page = await browser.newPage();
      const seen = [];
      page.on('request', (r) => seen.push(r));
      await page.goto(kioskOrigin);
      await page.waitForFunction(() => !document.getElementById('start').disabled, null, { timeout: 120_000 });
      // The deployment names this authority and allows one kiosk: this page, with the key its operator creates.
      const kioskKey = await createKioskKey(page);
      // The issuer registers the deployment (with its sealed reviewer materials) and this kiosk at the
      // authority, which grants CORS to the kiosk's origin only.
      const registration = join(scratch, 'oprf.vwr');
      veilwatch('registration', 'deployment', '--keys', keysDir, '--watchlist', join(scratch, 'oprf.vwl'), '--materials',
        join(scratch, 'oprf.vwl.materials.json'), '--kiosk-key', kioskKey, '--faces-per-minute', '600', '--faces-per-day', '10000',
        '--faces-total', '100000', '--out', registration);
      authority = spawn(cli, ['authority', '--admin-listen', '127.0.0.1:0', '--keys', join(keysDir, 'authority'), '--listen', `127.0.0.1:${authorityPort}`, '--allow-origin', kioskOrigin,
        '--register', registration], { stdio: 'ignore' });
      writeFileSync(join(scratch, 'authority.json'), JSON.stringify({
        ...JSON.parse(readFileSync(join(scratch, 'ok.json'), 'utf8')), custody: { kind: 'authority', url: authorityOrigin },
      }));
      veilwatch('profile', 'sign', '--keys', keysDir, '--watchlist', join(scratch, 'oprf.vwl'), '--template', join(scratch, 'authority.json'),
        '--kiosk-key', kioskKey, '--out', join(scratch, 'oprf.vwp'));
      await loadWatchlist(page, join(scratch, 'oprf.vwl'), join(scratch, 'oprf.vwp'), authorityOrigin);
      await page.waitForFunction(() => /Matching is on/.test(document.getElementById('status').textContent), null, { timeout: 30_000 });
      assert.match(await page.textContent('#watchlist-status'), /custody voprf-ristretto255-sha512 \(authority key/);
      await page.click('#start');
      await page.waitForSelector('li.alert', { timeout: 60_000 });
      // The reviewer material comes from the authority after the alert is listed (a second round trip).
      await page.waitForFunction(() => /Colin Powell/.test(document.querySelector('li.alert').textContent), null, { timeout: 30_000 });
      // The authority goes down mid-run: the kiosk says so and keeps detecting.
      authority.kill();
      const framesBefore = Number(await page.textContent('#frames'));
      await page.fill('#reviewer', 'A. Reviewer');
      await page.click('li.alert button[data-decision="unsure"]');
      await page.waitForFunction(() => /Matching is paused: .*authority/.test(document.getElementById('status').textContent), null, { timeout: 30_000 });
      await page.waitForFunction((n) => Number(document.getElementById('frames').textContent) > n + 3, framesBefore, { timeout: 30_000 });
      const foreign = seen.filter((r) => !r.url().startsWith(`${kioskOrigin}/`) && !r.url().startsWith('blob:'));
      // Besides its queries, the kiosk anchors its audit log there: signed heads (hashes), nothing of a face.
      const anchors = foreign.filter((r) => r.url() === `${authorityOrigin}/v1/anchor`);
      for (const r of anchors) {
        assert.equal(r.method(), 'POST');
        const sent = JSON.parse(r.postData());
        assert.deepEqual(Object.keys(sent), ['kioskKey', 'seq', 'head', 'time', 'signature']);
        assert.equal(sent.kioskKey, kioskKey);
        assert.match(sent.head, /^[0-9a-f]{64}$/);
      }
      const posts = foreign.filter((r) => r.method() === 'POST');
      for (const r of posts) assert.match(r.headers()['veilwatch-signature'] ?? '', /^[0-9a-f]{128}$/, `${r.url()} is signed`);
      const path = (r) => new URL(r.url()).pathname;
      const queries = posts.filter((r) => ['/v1/key-check', '/v1/evaluate'].includes(path(r)));
      assert.ok(queries.some((r) => path(r) === '/v1/key-check') && queries.some((r) => path(r) === '/v1/evaluate'),
        'the key check and at least one face went to the authority');
      const deployment = JSON.parse(veilwatch('inspect', join(scratch, 'oprf.vwl'), '--issuer', issuer)).deployment_id;
      assert.equal(queries.filter((r) => path(r) === '/v1/key-check').length, 1, 'one key check, at load');
      for (const r of queries) {
        assert.equal(r.headers()['veilwatch-deployment'], deployment, 'each query names the deployment');
        const body = r.postDataBuffer();
        assert.equal(body.length % 32, 0, 'only 32-byte blinded elements');
        assert.ok(!body.includes(Buffer.from('veilwatch/blind-lsh/v1')), 'no PRF input in the clear');
      }
      // The alert's disclosure: a handle and a proof, nothing of the face.
      const disclosures = posts.filter((r) => path(r) === '/v1/disclose');
      assert.equal(disclosures.length, 1);
      assert.deepEqual(Object.keys(JSON.parse(disclosures[0].postData())), ['handle', 'proof']);
      assert.deepEqual(posts.filter((r) => !queries.includes(r) && !disclosures.includes(r) && !anchors.includes(r)), []);
    } finally {
      await browser.close();
      kiosk.kill();
      authority?.kill();
    }
  });

  test('when the engine traps with a deployment loaded, the restarted engine matches against the same deployment; the old engine\'s alert leaves the list', async () => {
    const { browser, page } = await openKiosk(join(scratch, 'enrolled.y4m'));
    try {
      await loadWatchlist(page, join(scratch, 'list.vwl'), join(scratch, 'ok.vwp'));
      await page.waitForFunction(() => /Matching is on/.test(document.getElementById('status').textContent), null, { timeout: 30_000 });
      await page.click('#start');
      await page.waitForSelector('li.alert', { timeout: 60_000 });
      const before = await page.getAttribute('li.alert', 'data-alert');
      await page.evaluate(() => { document.querySelector('li.alert').dataset.testOldEngine = ''; });
      const worker = page.workers().find((w) => w.url().endsWith('/kiosk-worker.js'));
      // Overwrite the engine's whole memory, as a wild write would: its next call traps.
      await worker.evaluate(async () => {
        const { default: init } = await import(new URL('/pkg/veilwatch.js', self.location.origin).href);
        new Uint8Array((await init()).memory.buffer).fill(0xff);
      });
      await page.waitForFunction(() => /restarted after an internal error/.test(document.getElementById('status').textContent), null, { timeout: 120_000 });
      // The new engine numbers its alerts from 1 again: a decision on the old alert must not be
      // recorded against a new one, so the old one leaves the list, said in words.
      assert.match(await page.textContent('#status'), new RegExp(`Alert ${before}, raised before it stopped, can no longer be reviewed here`));
      assert.equal(await page.locator('li.alert[data-test-old-engine]').count(), 0, 'the old engine\'s alert left the list');
      // The deployment was loaded again from the page's copy (a load transfers the watchlist it sends).
      await page.waitForFunction(() => /up to 64 entries/.test(document.getElementById('watchlist-status').textContent), null, { timeout: 30_000 });
      // The stored log, after its restart line: the deployment's config line, then an alert.
      await page.waitForFunction(async () => {
        const { storedAudit } = await import('/api/create-kiosk.js');
        const kinds = (await storedAudit()).log.trim().split('\n').map((line) => JSON.parse(line).kind);
        const restart = kinds.lastIndexOf('restart');
        return restart >= 0 && kinds.indexOf('config', restart) > restart && kinds.indexOf('alert', restart) > restart;
      }, null, { timeout: 60_000, polling: 1000 });
      assert.doesNotMatch(await page.textContent('#status'), /refused/);
      await page.waitForSelector('li.alert', { timeout: 30_000 });
      assert.equal(await page.locator('li.alert').count(), 1, 'the new engine\'s alert is listed, alone');
    } finally {
      await browser.close();
    }
  });

  test('the served kiosk keeps working when its server goes away (cached application)', async () => {
    const { origin: kioskOrigin, process: kiosk } = await serveKiosk();
    const browser = await launch(join(scratch, 'enrolled.y4m'));
    try {
      const page = await browser.newPage();
      await page.goto(kioskOrigin);
      const { name, app } = serviceWorkerCache();
      await page.waitForFunction(async ({ name, app }) => {
        const registration = await navigator.serviceWorker.ready;
        const cache = await caches.open(name);
        return registration.active && (await Promise.all(app.map((path) => cache.match(path)))).every(Boolean);
      }, { name, app }, { timeout: 120_000 });
      kiosk.kill();
      await new Promise((r) => setTimeout(r, 300));
      await page.reload();
      await page.waitForFunction(() => !document.getElementById('start').disabled, null, { timeout: 120_000 });
      await page.click('#start');
      await page.waitForFunction(() => Number(document.getElementById('faces-processed').textContent) >= 2, null, { timeout: 60_000 });
    } finally {
      await browser.close();
      kiosk.kill();
    }
  });

  test('without a network: nothing but loopback is reachable from this test run', { skip: process.env.VEILWATCH_EXPECT_NO_NETWORK !== '1' }, async () => {
    const { connect } = await import('node:net');
    const code = await new Promise((ok) => {
      const socket = connect({ host: '192.0.2.1', port: 80 });
      socket.on('error', (e) => ok(e.code));
      socket.on('connect', () => { socket.destroy(); ok('connected'); });
      setTimeout(() => { socket.destroy(); ok('timeout'); }, 3000);
    });
    assert.equal(code, 'ENETUNREACH');
  });

  test('a refused camera is explained on the page', async () => {
    const browser = watchBrowser(await chromium.launch({ executablePath: chromiumPath, args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking'] }));
    try {
      const page = await browser.newPage();
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
