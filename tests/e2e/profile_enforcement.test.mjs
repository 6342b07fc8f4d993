// G8 in a real browser: what the kiosk enforces is what it displays. A watchlist loads only with
// its profile, and only on a kiosk the profile lists; with an overseer key in the deployment
// folder only a co-signed profile loads (also after an offline restart); "Enrol me" is off, with the reason shown, while a
// deployment runs; the page's clock stepped back is ignored by the kiosk and written to the audit
// log; the public notice shows the profile the kiosk loaded (and says "demonstration" otherwise).

import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import {
  cli, createKioskKey, fakeCamera as camera, haveLfw, launchWithCamera as launch, lfw, repo, serveKiosk,
} from '../harness.mjs';

const haveData = haveLfw('the profile enforcement browser tests');
const photo = (name, i) => join(lfw, name, `${name}_${String(i).padStart(4, '0')}.jpg`);
const veilwatch = (...args) => execFileSync(cli, ['--models', join(repo, 'models'), ...args], { encoding: 'utf8' });
const statusText = (page) => page.textContent('#status');
const waitFor = (page, fn, arg, timeout = 30_000) => page.waitForFunction(fn, arg, { timeout });
const waitStatus = (page, pattern) => waitFor(page, (source) => new RegExp(source).test(document.getElementById('status').textContent), pattern.source);

describe('profile enforcement', { skip: !haveData }, () => {
  let scratch;
  let issuer;
  let prfKey;
  let anotherKiosk;
  let plain;
  let withOverseer;
  const file = (name) => join(scratch, name);
  const sign = (out, ...extra) => veilwatch('profile', 'sign', '--keys', file('keys'), '--watchlist', file('list.vwl'),
    '--template', file('ok.json'), ...extra, '--out', file(out));

  before(async () => {
    scratch = mkdtempSync(join(tmpdir(), 'veilwatch-profile-'));
    issuer = veilwatch('keygen', '--out', file('keys')).trim();
    prfKey = readFileSync(file('keys/secret/prf-local.key'), 'utf8').trim();
    // Another kiosk's public key (any Ed25519 public key not this browser's).
    anotherKiosk = veilwatch('keygen', '--out', file('kiosk-another')).trim();
    const overseer = veilwatch('keygen', '--out', file('overseer')).trim();
    for (const [name, from, to] of [['Colin_Powell', 2, 8], ['Tony_Blair', 1, 5]]) {
      mkdirSync(file(`people/${name}`), { recursive: true });
      for (let i = from; i <= to; i++) symlinkSync(photo(name, i), file(`people/${name}/${name}_${i}.jpg`));
    }
    veilwatch('enroll', file('people'), '--keys', file('keys'), '--out', file('list.vwl'), '--valid-until', '2099-01-01');
    writeFileSync(file('ok.json'), JSON.stringify({
      purpose: 'Browser test of profile enforcement', legalBasis: 'Test data (LFW)', operator: 'Veilwatch CI',
      location: 'Headless chromium', validFrom: '2020-01-01T00:00:00Z', validUntil: '2099-01-01T00:00:00Z', threshold: 53,
      thresholdFloor: 50, custody: { kind: 'local' }, queryRatePerMinute: 600, notice: 'Test deployment.', contact: 'ci@veilwatch.invalid',
    }));
    sign('ok.vwp');
    sign('another-kiosk.vwp', '--kiosk-key', anotherKiosk);
    veilwatch('profile', 'cosign', file('ok.vwp'), '--keys', file('overseer'), '--out', file('cosigned.vwp'));
    // The deployment folder a server publishes under /deployment/: here, only the overseer's key.
    mkdirSync(file('deployment'));
    writeFileSync(file('deployment/overseer.pub'), `${overseer}\n`);
    camera(file('enrolled.y4m'), [photo('Colin_Powell', 1)], 4);
    plain = await serveKiosk();
    withOverseer = await serveKiosk(['--mount', `/deployment=${file('deployment')}`]);
  });
  after(() => {
    plain?.process.kill();
    withOverseer?.process.kill();
    rmSync(scratch, { recursive: true, force: true });
  });

  /** A kiosk page (in `context`) at `origin`, models loaded. */
  async function openKiosk(context, origin) {
    const page = await context.newPage();
    await page.goto(origin);
    await waitFor(page, () => !document.getElementById('start').disabled, null, 120_000);
    return page;
  }

  async function loadWatchlist(page, profile) {
    if (!(await page.isVisible('#watchlist-file'))) await page.click('details.operator summary');
    await page.setInputFiles('#watchlist-file', file('list.vwl'));
    if (profile) await page.setInputFiles('#profile-file', file(profile));
    await page.fill('#issuer-key', issuer);
    await page.fill('#prf-key', prfKey);
    await page.click('#load');
  }

  test('a watchlist without its profile, or on a kiosk its profile does not list, is refused in words', async () => {
    const browser = await launch(null);
    try {
      // Each kiosk in its own browser context: the kiosk key lives in the origin's IndexedDB.
      const keyless = await openKiosk(await browser.newContext(), plain.origin);
      await loadWatchlist(keyless, null);
      await waitStatus(keyless, /Choose the deployment profile/);
      await loadWatchlist(keyless, 'another-kiosk.vwp');
      await waitStatus(keyless, /refused: this kiosk is not allowed to run the deployment: the profile lists 1 kiosk key\(s\) and this kiosk presented no key/);
      assert.match(await keyless.textContent('#watchlist-status'), /No watchlist loaded/);

      // A kiosk whose operator created its key, which the profile does not list.
      const kiosk = await openKiosk(await browser.newContext(), plain.origin);
      const thisKiosk = await createKioskKey(kiosk);
      assert.notEqual(thisKiosk, anotherKiosk);
      await loadWatchlist(kiosk, 'another-kiosk.vwp');
      await waitStatus(kiosk, new RegExp(`refused: .*this kiosk's key ${thisKiosk} is not among them`));
      assert.match(await kiosk.textContent('#watchlist-status'), /No watchlist loaded/);

      // The issuer signs the deployment for this kiosk's key: now it loads.
      sign('this-kiosk.vwp', '--kiosk-key', thisKiosk);
      await loadWatchlist(kiosk, 'this-kiosk.vwp');
      await waitStatus(kiosk, /Matching is on/);
      assert.match(await kiosk.textContent('#watchlist-status'), /up to 64 entries .* at most 600 faces matched a minute/);
    } finally {
      await browser.close();
    }
  });

  test('with an overseer key in the deployment folder only a co-signed profile loads; without one a co-signed profile is refused', async () => {
    const browser = await launch(null);
    try {
      const context = await browser.newContext();
      const overseen = await openKiosk(context, withOverseer.origin);
      await loadWatchlist(overseen, 'ok.vwp');
      await waitStatus(overseen, /refused: the deployment profile needs the overseer's co-signature, and it is missing/);
      await loadWatchlist(overseen, 'cosigned.vwp');
      await waitStatus(overseen, /Matching is on/);
      // Restarted with its server gone, the kiosk still requires the co-signature (the service
      // worker keeps the overseer's key with the application).
      await waitFor(overseen, async () => Boolean((await navigator.serviceWorker.ready).active), null, 120_000);
      await overseen.reload();
      await waitFor(overseen, () => !document.getElementById('start').disabled, null, 120_000);
      await waitFor(overseen, async () => Boolean(await (await caches.keys()).reduce(async (found, name) =>
        (await found) || (await caches.open(name)).match('/deployment/overseer.pub'), Promise.resolve(null))), null, 30_000);
      withOverseer.process.kill();
      await new Promise((r) => setTimeout(r, 300));
      await overseen.reload();
      await waitFor(overseen, () => !document.getElementById('start').disabled, null, 120_000);
      await loadWatchlist(overseen, 'ok.vwp');
      await waitStatus(overseen, /refused: the deployment profile needs the overseer's co-signature, and it is missing/);

      const unconfigured = await openKiosk(context, plain.origin);
      await loadWatchlist(unconfigured, 'cosigned.vwp');
      await waitStatus(unconfigured, /refused: .*this kiosk has no overseer key configured/);
    } finally {
      await browser.close();
    }
  });

  test('"Enrol me" is off, with the reason shown, while a deployment runs; the notice shows the profile the kiosk loaded', async () => {
    const browser = await launch(file('enrolled.y4m'));
    try {
      const alone = await (await browser.newContext()).newPage();
      await alone.goto(`${plain.origin}/notice.html`);
      await waitFor(alone, () => /No kiosk is running/.test(document.getElementById('notice-state').textContent));

      const context = await browser.newContext();
      const kiosk = await openKiosk(context, plain.origin);
      const notice = await context.newPage();
      await notice.goto(`${plain.origin}/notice.html`);
      await waitFor(notice, () => /Demonstration mode/.test(document.getElementById('notice-state').textContent));
      assert.match(await notice.textContent('#operator'), /The person running this demonstration/);

      await kiosk.click('#start');
      await waitFor(kiosk, () => !document.getElementById('enrol').disabled, null, 60_000);
      await loadWatchlist(kiosk, 'ok.vwp');
      await waitStatus(kiosk, /Matching is on/);
      await waitFor(kiosk, () => document.getElementById('enrol').disabled);
      assert.match(await kiosk.textContent('#enrol-reason'),
        /“Enrol me” is off: this kiosk runs the deployment of Veilwatch CI at Headless chromium; enrolling volunteers is only possible in demo mode/);

      // The notice page, already open, follows the kiosk to the profile it loaded.
      await waitFor(notice, () => /loaded and verified/.test(document.getElementById('notice-state').textContent));
      assert.equal(await notice.textContent('#operator'), 'Veilwatch CI');
      assert.equal(await notice.textContent('#purpose'), 'Browser test of profile enforcement');
      assert.match(await notice.textContent('#window'), /from 2020-01-01T00:00:00Z until 2099-01-01T00:00:00Z; at most 600 faces matched a minute/);
    } finally {
      await browser.close();
    }
  });

  test('the page\'s clock stepped back is ignored by the kiosk and logged; a jump forward is logged', async () => {
    const browser = await launch(file('enrolled.y4m'));
    try {
      const page = await openKiosk(await browser.newContext(), plain.origin);
      await loadWatchlist(page, 'ok.vwp');
      await waitStatus(page, /Matching is on/);
      await page.click('#start');
      const frames = async () => Number(await page.textContent('#frames'));
      const moreFrames = async (n) => waitFor(page, (target) => Number(document.getElementById('frames').textContent) >= target, (await frames()) + n, 60_000);
      await moreFrames(3);
      // The page's clock (which times every frame it sends) goes back two hours, then three ahead.
      await page.evaluate(() => { const real = Date.now.bind(Date); Date.now = () => real() - 2 * 3600_000; });
      await moreFrames(5);
      await page.evaluate(() => { const real = Date.now.bind(Date); Date.now = () => real() + 5 * 3600_000; });
      await moreFrames(3);

      const download = page.waitForEvent('download');
      await page.click('#export-audit');
      const log = file('audit.jsonl');
      await (await download).saveAs(log);
      const clock = readFileSync(log, 'utf8').split('\n').filter((l) => l.includes('"kind":"clock"'));
      assert.equal(clock.filter((l) => /"step":"backward"/.test(l)).length, 1, `one line for one backward episode:\n${clock.join('\n')}`);
      assert.match(clock.join('\n'), /"ignored":true,"seconds":7[12]\d\d(\.\d+)?,"step":"backward"/);
      assert.match(clock.join('\n'), /"seconds":10[78]\d\d(\.\d+)?,"step":"forward"/);
      assert.match(veilwatch('audit', 'verify', log), /chain intact/);
    } finally {
      await browser.close();
    }
  });
});
