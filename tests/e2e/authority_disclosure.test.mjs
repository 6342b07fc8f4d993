// Reviewer material at a real `veilwatch authority` (DESIGN §3.3, protocol E), in a real browser and
// through the CLI: the watchlist holds only handles; its materials are registered with the authority
// by the issuer; the kiosk signs every request with its non-extractable key, and an alert shows the
// label once the authority disclosed the sealed material. An unsigned request is refused (401,
// `unauthorised`) and evaluates or discloses nothing; past the deployment's disclosure cap the alert says
// "material not available" with the authority's reason (429 `disclosure_cap`).

import { execFileSync, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import { cli, createKioskKey, fakeCamera, freePort, haveLfw, launchWithCamera, lfw, repo, serveKiosk } from '../harness.mjs';

const haveData = haveLfw('the authority disclosure tests');
const ENROLLED = 'Colin_Powell';
const LABEL = 'Colin Powell';
const photo = (name, i) => join(lfw, name, `${name}_${String(i).padStart(4, '0')}.jpg`);
const veilwatch = (...args) => execFileSync(cli, ['--models', join(repo, 'models'), ...args], { encoding: 'utf8', stdio: 'pipe' });

/** Starts `veilwatch authority` on `port` with `args`; resolves with its origin and process. */
async function startAuthority(args, port) {
  port ??= await freePort();
  const origin = `http://127.0.0.1:${port}`;
  const process = spawn(cli, ['authority', '--admin-listen', '127.0.0.1:0', '--listen', `127.0.0.1:${port}`, ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  process.stderr.on('data', (d) => { stderr += d; });
  for (let i = 0; i < 100; i++) {
    try {
      await fetch(`${origin}/v1/health`);
      return { origin, process };
    } catch {
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  process.kill();
  throw new Error(`veilwatch authority did not come up at ${origin}: ${stderr}`);
}

describe('reviewer material disclosed by the authority', { skip: !haveData }, () => {
  let scratch;
  let keys;
  let issuer;
  let watchlist;
  let template;

  before(() => {
    scratch = mkdtempSync(join(tmpdir(), 'veilwatch-disclosure-'));
    keys = join(scratch, 'keys');
    issuer = veilwatch('keygen', '--out', keys).trim();
    const people = join(scratch, 'people');
    for (const [name, from, to] of [[ENROLLED, 2, 8], ['Tony_Blair', 1, 5]]) {
      mkdirSync(join(people, name), { recursive: true });
      for (let i = from; i <= to; i++) symlinkSync(photo(name, i), join(people, name, `${name}_${String(i).padStart(4, '0')}.jpg`));
    }
    watchlist = join(scratch, 'list.vwl');
    veilwatch('enroll', people, '--keys', keys, '--out', watchlist, '--custody', 'authority', '--valid-until', '2099-01-01');
    template = {
      purpose: 'Browser test of reviewer material', legalBasis: 'Test data (LFW)', operator: 'Veilwatch CI', location: 'Headless chromium',
      validFrom: '2020-01-01T00:00:00Z', validUntil: '2099-01-01T00:00:00Z', threshold: 53, thresholdFloor: 50,
      queryRatePerMinute: 600, notice: 'Test deployment.', contact: 'ci@veilwatch.invalid',
    };
  });
  after(() => rmSync(scratch, { recursive: true, force: true }));

  test('the file holds no label; the materials file holds them sealed', () => {
    const materials = JSON.parse(readFileSync(`${watchlist}.materials.json`, 'utf8'));
    assert.equal(materials.length, 2);
    for (const m of materials) {
      assert.match(m.handle, /^[0-9a-f]{32}$/);
      assert.match(m.verifier, /^[0-9a-f]{64}$/);
    }
    for (const file of [watchlist, `${watchlist}.materials.json`]) {
      assert.ok(!readFileSync(file).includes(Buffer.from(LABEL)), `${file} holds no label in the clear`);
    }
  });

  /** Registers the deployment for `kioskKeys` with `disclosures` per hour; the registration file. */
  function register(name, kioskKeys, disclosures) {
    const out = join(scratch, `${name}.vwr`);
    veilwatch('registration', 'deployment', '--keys', keys, '--watchlist', watchlist, '--materials', `${watchlist}.materials.json`,
      ...kioskKeys.flatMap((k) => ['--kiosk-key', k]), '--faces-per-minute', '600', '--faces-per-day', '10000', '--faces-total', '100000',
      '--disclosures-per-hour', String(disclosures), '--out', out);
    return out;
  }

  test('identify --authority --kiosk-key prints the label the authority disclosed; unsigned requests are refused', async () => {
    const kioskKeyFile = join(scratch, 'cli-kiosk.key');
    const kioskKey = veilwatch('kiosk-key', 'new', '--out', kioskKeyFile).trim();
    const { origin, process } = await startAuthority(['--keys', join(keys, 'authority'), '--register', register('cli', [kioskKey], 10)]);
    try {
      const out = veilwatch('identify', watchlist, '--issuer', issuer, '--authority', origin, '--kiosk-key', kioskKeyFile, '--json', photo(ENROLLED, 1));
      const alerts = JSON.parse(out)[0].faces.flatMap((f) => f.alerts);
      assert.equal(alerts.length, 1);
      assert.equal(alerts[0].record.label, LABEL);

      const materials = JSON.parse(readFileSync(`${watchlist}.materials.json`, 'utf8'));
      for (const [path, body] of [['/v1/disclose', JSON.stringify({ handle: materials[0].handle, proof: '00'.repeat(32) })], ['/v1/evaluate', new Uint8Array(32 * 1024)]]) {
        const response = await fetch(`${origin}${path}`, { method: 'POST', body });
        assert.equal(response.status, 401, path);
        assert.equal(response.headers.get('veilwatch-refusal'), 'unauthorised');
        const bytes = Buffer.from(await response.arrayBuffer());
        assert.ok(!bytes.includes(Buffer.from(materials[0].sealed, 'base64').subarray(0, 32)), 'nothing disclosed');
      }
    } finally {
      process.kill();
    }
  });

  /** Opens the kiosk at a fresh authority registered for its key with `disclosures` per hour; the camera
   * shows the enrolled person and then a grey scene, over and over (a new track, a new alert, each time). */
  async function kioskWithAuthority(name, disclosures, use) {
    const authorityPort = await freePort();
    const authorityOrigin = `http://127.0.0.1:${authorityPort}`;
    const { origin: kioskOrigin, process: kiosk } = await serveKiosk(['--authority', authorityOrigin]);
    const grey = join(scratch, 'grey.jpg');
    execFileSync('ffmpeg', ['-loglevel', 'error', '-y', '-f', 'lavfi', '-i', 'color=gray:s=250x250', '-frames:v', '1', grey]);
    const browser = await launchWithCamera(fakeCamera(join(scratch, `${name}.y4m`), [photo(ENROLLED, 1), grey], 2.5));
    let authority;
    try {
      const page = await browser.newPage();
      await page.goto(kioskOrigin);
      await page.waitForFunction(() => !document.getElementById('start').disabled, null, { timeout: 120_000 });
      const kioskKey = await createKioskKey(page);
      ({ process: authority } = await startAuthority(
        ['--keys', join(keys, 'authority'), '--allow-origin', kioskOrigin, '--register', register(name, [kioskKey], disclosures)], authorityPort));
      writeFileSync(join(scratch, `${name}.json`), JSON.stringify({ ...template, custody: { kind: 'authority', url: authorityOrigin } }));
      veilwatch('profile', 'sign', '--keys', keys, '--watchlist', watchlist, '--template', join(scratch, `${name}.json`),
        '--kiosk-key', kioskKey, '--out', join(scratch, `${name}.vwp`));
      if (!(await page.isVisible('#watchlist-file'))) await page.click('details.operator summary');
      await page.setInputFiles('#watchlist-file', watchlist);
      await page.setInputFiles('#profile-file', join(scratch, `${name}.vwp`));
      await page.fill('#issuer-key', issuer);
      await page.fill('#authority-url', authorityOrigin);
      await page.click('#load');
      await page.waitForFunction(() => /Matching is on/.test(document.getElementById('status').textContent), null, { timeout: 30_000 });
      await page.click('#start');
      await use(page);
    } finally {
      await browser.close();
      kiosk.kill();
      authority?.kill();
    }
  }

  test('in the browser the alert shows the label once disclosed; past the cap it says the material is not available', async () => {
    await kioskWithAuthority('browser', 1, async (page) => {
      await page.waitForFunction((label) => document.querySelector('li.alert')?.textContent.includes(label), LABEL, { timeout: 60_000 });
      assert.ok(await page.isVisible('li.alert img[alt^="Reference photo of"]'), 'the reference photo came with it');
      // The person leaves and comes back: a new track, a new alert, over the cap of 1 an hour.
      await page.waitForFunction(() => document.querySelectorAll('li.alert').length >= 2, null, { timeout: 60_000 });
      await page.waitForFunction(() => /material not available/.test(document.querySelectorAll('li.alert')[1].textContent), null, { timeout: 30_000 });
      const second = await page.textContent('li.alert:nth-of-type(2)');
      assert.match(second, /disclosure_cap/);
      assert.ok(!second.includes(LABEL));
      // It stays for review all the same.
      await page.fill('#reviewer', 'A. Reviewer');
      await page.click('li.alert:nth-of-type(2) button[data-decision="unsure"]');
    });
  });
});
