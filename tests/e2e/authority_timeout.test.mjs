// An authority that stops answering (a hung server, a black-holed network) must not freeze the
// kiosk: the Worker's fetch to the authority times out (5 s), the kiosk says matching is paused,
// raises no alert, and keeps detecting and counting frames at its usual pace meanwhile. In a real browser, against a real `veilwatch authority` behind a proxy
// that forwards the key check at load time and then holds every request open without answering; and
// one that holds the key check itself open, which refuses the load at the deadline; and one that
// tampers with the answers, whose proofs then fail and pause matching.

import { execFileSync, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { createServer, request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import { cli, createKioskKey, fakeCamera, freePort, haveLfw, launchWithCamera, lfw, repo, serveKiosk, waitForStatus } from '../harness.mjs';

const haveData = haveLfw('the authority timeout test');
const veilwatch = (...args) => execFileSync(cli, ['--models', join(repo, 'models'), ...args], { encoding: 'utf8' });
const photo = (name, i) => join(lfw, name, `${name}_${String(i).padStart(4, '0')}.jpg`);

const isQuery = (url) => url.startsWith('/v1/evaluate') || url.startsWith('/v1/key-check'); // not an audit anchor

/** A proxy to `target` that forwards requests until `hang` is set, then holds each POST open
 * (`held` counts the held key checks and queries to /v1/evaluate and /v1/key-check, not audit anchors); while `tamper` is set it
 * flips one bit of each answer to /v1/evaluate (`tampered` counts them). */
async function hangingProxy(target) {
  const state = { hang: false, held: 0, tamper: false, tampered: 0, log: [] };
  const server = createServer((req, res) => {
    if (state.hang && req.method === 'POST') {
      state.log.push(`${req.method} ${req.url} held`);
      if (isQuery(req.url)) state.held += 1;
      return; // never answered
    }
    const upstream = request(`${target}${req.url}`, { method: req.method, headers: req.headers }, (answer) => {
      state.log.push(`${req.method} ${req.url} ${answer.statusCode}${state.tamper ? ' (tampering on)' : ''}`);
      if (state.tamper && req.method === 'POST' && req.url.startsWith('/v1/evaluate') && answer.statusCode === 200) {
        const chunks = [];
        answer.on('data', (c) => chunks.push(c));
        answer.on('end', () => {
          const body = Buffer.concat(chunks);
          body[body.length - 70] ^= 1; // inside the last evaluated element
          state.tampered += 1;
          res.writeHead(answer.statusCode, answer.headers);
          res.end(body);
        });
        return;
      }
      res.writeHead(answer.statusCode, answer.headers);
      answer.pipe(res);
    });
    upstream.on('error', (error) => {
      state.log.push(`${req.method} ${req.url} failed: ${error.message}`);
      res.destroy();
    });
    req.pipe(upstream);
  });
  const port = await freePort();
  await new Promise((ok) => server.listen(port, '127.0.0.1', ok));
  return { origin: `http://127.0.0.1:${port}`, state, close: () => { server.closeAllConnections(); server.close(); } };
}

describe('authority custody with an authority that stops answering', { skip: !haveData }, () => {
  let scratch;
  let issuer;
  let keys;
  before(() => {
    scratch = mkdtempSync(join(tmpdir(), 'veilwatch-timeout-'));
    keys = join(scratch, 'keys');
    issuer = veilwatch('keygen', '--out', keys).trim();
    mkdirSync(join(scratch, 'people/Colin_Powell'), { recursive: true });
    for (let i = 2; i <= 8; i++) symlinkSync(photo('Colin_Powell', i), join(scratch, `people/Colin_Powell/${i}.jpg`));
    veilwatch('enroll', join(scratch, 'people'), '--keys', keys, '--out', join(scratch, 'oprf.vwl'), '--custody', 'authority',
      '--valid-until', '2099-01-01');
    fakeCamera(join(scratch, 'enrolled.y4m'), [photo('Colin_Powell', 1)], 4);
  });
  after(() => rmSync(scratch, { recursive: true, force: true }));

  /** `veilwatch authority` on `port` with the deployment registered for `kioskKey`, known to
   * kiosks as `publicOrigin` (the proxy in front of it, whose origin the kiosk signs for). */
  function startAuthority(port, origin, kioskKey, publicOrigin) {
    const registration = join(scratch, `${kioskKey.slice(0, 8)}.vwr`);
    veilwatch('registration', 'deployment', '--keys', keys, '--watchlist', join(scratch, 'oprf.vwl'), '--kiosk-key', kioskKey,
      '--faces-per-minute', '600', '--faces-per-day', '10000', '--faces-total', '100000', '--out', registration);
    // Its own state database: each test's authority starts from nothing, as in a fresh deployment.
    const authority = spawn(cli, ['authority', '--admin-listen', '127.0.0.1:0', '--keys', join(keys, 'authority'), '--listen', `127.0.0.1:${port}`,
      '--public-origin', publicOrigin, '--state', join(scratch, `${kioskKey.slice(0, 8)}.sqlite3`), '--allow-origin', origin, '--register', registration],
      { stdio: ['ignore', 'ignore', 'pipe'] });
    authority.said = '';
    authority.stderr.on('data', (chunk) => { authority.said = (authority.said + chunk).slice(-2000); });
    return authority;
  }

  /** Runs `run({page, proxy})` on a kiosk page that reaches the authority through a
   * `hangingProxy`: the page's kiosk key created, the authority started with the deployment
   * registered for that key, the profile signed for the authority as the kiosk reaches it (the
   * proxy) and the load form filled in, not submitted. Everything is stopped afterwards. */
  async function withDeployment(purpose, run) {
    const authorityPort = await freePort();
    const proxy = await hangingProxy(`http://127.0.0.1:${authorityPort}`);
    const { origin, process: server } = await serveKiosk(['--authority', proxy.origin]);
    let authority;
    const browser = await launchWithCamera(join(scratch, 'enrolled.y4m'));
    try {
      const page = await browser.newPage();
      await page.goto(origin);
      await page.waitForFunction(() => !document.getElementById('start').disabled, null, { timeout: 120_000 });
      const kioskKey = await createKioskKey(page);
      // The authority knows the deployment and this kiosk, and grants CORS to the kiosk's origin only.
      authority = startAuthority(authorityPort, origin, kioskKey, proxy.origin);
      writeFileSync(join(scratch, 'authority.json'), JSON.stringify({
        purpose, legalBasis: 'Test data (LFW)', operator: 'Veilwatch CI', location: 'Headless chromium',
        validFrom: '2020-01-01T00:00:00Z', validUntil: '2099-01-01T00:00:00Z', threshold: 53, thresholdFloor: 50,
        custody: { kind: 'authority', url: proxy.origin }, queryRatePerMinute: 600, notice: 'Test deployment.', contact: 'ci@veilwatch.invalid',
      }));
      veilwatch('profile', 'sign', '--keys', keys, '--watchlist', join(scratch, 'oprf.vwl'), '--template', join(scratch, 'authority.json'),
        '--kiosk-key', kioskKey, '--out', join(scratch, 'oprf.vwp'));
      await page.setInputFiles('#watchlist-file', join(scratch, 'oprf.vwl'));
      await page.setInputFiles('#profile-file', join(scratch, 'oprf.vwp'));
      await page.fill('#issuer-key', issuer);
      await page.fill('#authority-url', proxy.origin);
      const said = () => `The proxy saw: ${proxy.state.log.slice(-20).join('; ') || 'nothing'}. The authority said: ${authority.said.trim() || 'nothing'}`;
      await run({ page, proxy, said });
    } finally {
      await browser.close();
      server.kill();
      proxy.close();
      authority?.kill();
    }
  }

  test('the round trip times out: matching is paused with a reason, no alert, detection goes on', async () =>
    withDeployment('Browser test of an authority timeout', async ({ page, proxy, said }) => {
      await page.click('#load');
      // The key check went through (the authority answered it); from now on it answers nothing.
      await waitForStatus(page, /Matching is on/, { context: said });
      proxy.state.hang = true;
      await page.click('#start');
      await waitForStatus(page, /Matching is paused: .*did not answer within 5 s/, { context: said });
      assert.ok(proxy.state.held >= 1, 'the kiosk asked the authority, which held the request');
      const frames = Number(await page.textContent('#frames'));
      await page.waitForFunction((n) => Number(document.getElementById('frames').textContent) > n + 2, frames, { timeout: 60_000 });
      assert.ok(Number(await page.textContent('#faces-processed')) >= 1, 'faces are still detected');
      assert.equal(await page.locator('li.alert').count(), 0, 'no alert without an answer');
    }));

  test('an answer tampered on its way fails its proof: matching is paused until the deployment is loaded again', async () =>
    withDeployment('Browser test of a tampered answer', async ({ page, proxy, said }) => {
      await page.click('#load');
      await waitForStatus(page, /Matching is on/, { context: said });
      // From now on one bit of every evaluation answer is flipped on its way to the kiosk.
      proxy.state.tamper = true;
      await page.click('#start');
      await waitForStatus(page, /failed verification; matching is paused/, { context: said });
      assert.ok(proxy.state.tampered >= 1, 'an answer was tampered with');
      assert.match(await page.textContent('#watchlist-status'), /Matching is paused: .*failed verification/);
      // Paused: frames go on, no alert is raised, and the status stays paused.
      const frames = Number(await page.textContent('#frames'));
      await page.waitForFunction((n) => Number(document.getElementById('frames').textContent) > n + 3, frames, { timeout: 60_000 });
      assert.equal(await page.locator('li.alert').count(), 0, 'nothing opens under an unverified answer');
      assert.match(await page.textContent('#watchlist-status'), /Matching is paused/);
    }));

  test('a key check the authority never answers refuses the load after 5 s; nothing is matched', async () =>
    withDeployment('Browser test of an authority timeout', async ({ page, proxy, said }) => {
      // The authority answers nothing from the start: the key check of the load is held open.
      proxy.state.hang = true;
      const asked = Date.now();
      await page.click('#load');
      await waitForStatus(page, /did not answer within 5 s/, { context: said });
      assert.ok(Date.now() - asked >= 4_500, 'refused at the deadline, not before');
      assert.equal(proxy.state.held, 1, 'the one key check went to the authority, asynchronously');
      assert.doesNotMatch(await page.textContent('#status'), /Matching is on/);
      assert.match(await page.textContent('#watchlist-status'), /No watchlist loaded/, 'nothing half-loaded');
    }));
});
