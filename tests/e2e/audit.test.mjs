// The durable, signed audit log (DESIGN §1 G7) in a real browser: the kiosk key is a
// non-extractable WebCrypto Ed25519 key whose public key the operator panel shows; the log and its
// signed heads survive a page reload and continue with a `resume` line; the page's exports (log +
// signed heads) verify with `veilwatch audit verify --kiosk-key --anchors`, and a truncated export
// is detected; when the engine's wasm instance traps (here: its memory is overwritten, as a wild
// write would), the page restarts the engine Worker, which continues the same log with a `restart`
// line, and the camera goes on. In authority custody the page POSTs each signed head to the
// authority's /v1/anchor: what it sends is a head the CLI verifies against the exported log.

import { execFileSync, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import { cli, createKioskKey, fakeCamera, freePort, haveLfw, launchWithCamera, lfw, repo, serveKiosk } from '../harness.mjs';

const haveData = haveLfw('the audit log browser tests');
const verify = (...args) => execFileSync(cli, ['audit', 'verify', ...args], { encoding: 'utf8', stdio: 'pipe' });
const verifyFails = (...args) => {
  try {
    verify(...args);
  } catch (error) {
    return error.stderr;
  }
  assert.fail(`audit verify accepted ${args.join(' ')}`);
};
const kinds = (log) => log.trim().split('\n').map((line) => JSON.parse(line).kind);

describe('audit log in the browser', { skip: !haveData }, () => {
  let scratch;
  let server;
  let browser;
  let page;
  let kioskKey;
  let beforeReload;

  async function ready() {
    await page.waitForFunction(() => !document.getElementById('start').disabled, null, { timeout: 120_000 });
  }

  async function download(button, name) {
    const file = join(scratch, name);
    const downloaded = page.waitForEvent('download');
    await page.click(button);
    await (await downloaded).saveAs(file);
    return file;
  }

  before(async () => {
    scratch = mkdtempSync(join(tmpdir(), 'veilwatch-audit-'));
    const camera = fakeCamera(join(scratch, 'volunteer.y4m'), [join(lfw, 'Tony_Blair', 'Tony_Blair_0008.jpg')], 4);
    let origin;
    ({ origin, process: server } = await serveKiosk());
    browser = await launchWithCamera(camera);
    page = await browser.newPage();
    await page.goto(origin);
    await ready();
  });
  after(async () => {
    await browser?.close();
    server?.kill();
    rmSync(scratch, { recursive: true, force: true });
  });

  test('the operator creates a kiosk key: non-extractable Ed25519, its public key shown as 64 hex digits', async () => {
    await page.click('details.operator summary');
    assert.match(await page.textContent('#kiosk-key'), /none yet/);
    await page.click('#create-kiosk-key');
    await page.waitForFunction(() => /^[0-9a-f]{64}$/.test(document.getElementById('kiosk-key').textContent), null, { timeout: 10_000 });
    kioskKey = await page.textContent('#kiosk-key');
    assert.equal(await page.isHidden('#create-kiosk-key'), true, 'one key per kiosk');
    const stored = await page.evaluate(async () => {
      const { loadKeyPair } = await import('/kiosk/audit-store.js');
      const { privateKey, publicKey } = await loadKeyPair();
      let exported = null;
      try {
        await crypto.subtle.exportKey('pkcs8', privateKey);
        exported = 'exported';
      } catch (error) {
        exported = error.name;
      }
      const raw = new Uint8Array(await crypto.subtle.exportKey('raw', publicKey));
      return {
        algorithm: privateKey.algorithm.name,
        extractable: privateKey.extractable,
        usages: privateKey.usages,
        exported,
        publicHex: Array.from(raw, (b) => b.toString(16).padStart(2, '0')).join(''),
      };
    });
    assert.deepEqual(stored, { algorithm: 'Ed25519', extractable: false, usages: ['sign'], exported: 'InvalidAccessError', publicHex: kioskKey });
  });

  test('an alert and its review are logged and signed; the export verifies against the kiosk key and the signed heads', async () => {
    await page.click('#start');
    await page.waitForFunction(() => Number(document.getElementById('faces-processed').textContent) >= 2, null, { timeout: 60_000 });
    await page.fill('#enrol-name', 'Demo Visitor');
    await page.click('#enrol');
    await page.waitForSelector('li.alert', { timeout: 60_000 });
    await page.fill('#reviewer', 'A. Reviewer');
    await page.click('li.alert button[data-decision="confirm"]');
    await page.waitForFunction(() => document.querySelectorAll('li.alert').length === 0, null, { timeout: 10_000 });
    const log = await download('#export-audit', 'before-reload.jsonl');
    const anchors = await download('#export-anchors', 'before-reload-anchors.jsonl');
    beforeReload = readFileSync(log, 'utf8');
    const start = JSON.parse(beforeReload.split('\n')[0]);
    assert.equal(start.kind, 'start');
    assert.equal(start.data.kiosk_key, kioskKey, 'the first line binds the log to this kiosk');
    assert.ok(kinds(beforeReload).includes('alert') && kinds(beforeReload).includes('review'));
    assert.doesNotMatch(beforeReload, /Demo Visitor|probe|embedding/, 'counts, ids and decisions only');
    const heads = readFileSync(anchors, 'utf8').trim().split('\n').map((line) => JSON.parse(line));
    assert.ok(heads.length >= 2, 'signed at the alert and at the review');
    assert.ok(heads.every((h) => h.kioskKey === kioskKey && /^[0-9a-f]{128}$/.test(h.signature)));
    const out = verify(log, '--kiosk-key', kioskKey, '--anchors', anchors);
    assert.match(out, /chain intact/);
    assert.match(out, new RegExp(`anchors: ${heads.length} signed heads verified`));
  });

  test('the log survives a page reload: the same lines, then a resume line, and the chain continues', async () => {
    await page.reload();
    await ready();
    await page.click('details.operator summary');
    assert.equal(await page.textContent('#kiosk-key'), kioskKey, 'the kiosk key survives the reload too');
    const log = await download('#export-audit', 'after-reload.jsonl');
    const anchors = await download('#export-anchors', 'after-reload-anchors.jsonl');
    const text = readFileSync(log, 'utf8');
    assert.ok(text.startsWith(beforeReload), 'every line from before the reload is still there, byte for byte');
    assert.equal(kinds(text)[kinds(beforeReload).length], 'resume');
    assert.match(verify(log, '--kiosk-key', kioskKey, '--anchors', anchors), /chain intact/);

    // The last signed head is past the cut: the truncated export is refused.
    const lines = text.trim().split('\n');
    const cut = join(scratch, 'cut.jsonl');
    writeFileSync(cut, `${lines.slice(0, lines.length - 2).join('\n')}\n`);
    assert.match(verify(cut), /chain intact/, 'alone, a cut log is a valid chain');
    assert.match(verifyFails(cut, '--kiosk-key', kioskKey, '--anchors', anchors), /the audit log was truncated/);
  });

  test('when the engine traps, the page restarts its Worker, the log continues with a restart line and the camera goes on', async () => {
    await page.click('#start');
    await page.waitForFunction(() => Number(document.getElementById('faces-processed').textContent) >= 1, null, { timeout: 60_000 });
    const worker = page.workers().find((w) => w.url().endsWith('/kiosk-worker.js'));
    assert.ok(worker, 'the engine Worker runs');
    // Overwrite the engine's whole memory, as a wild write would: its next call traps.
    await worker.evaluate(async () => {
      const { default: init } = await import(new URL('/pkg/veilwatch.js', self.location.origin).href);
      const wasm = await init();
      new Uint8Array(wasm.memory.buffer).fill(0xff);
    });
    await page.waitForFunction(() => /restarted after an internal error/.test(document.getElementById('status').textContent), null, { timeout: 120_000 });
    const processed = Number(await page.textContent('#faces-processed'));
    await page.waitForFunction((n) => Number(document.getElementById('faces-processed').textContent) > n, processed, { timeout: 60_000 });
    const log = await download('#export-audit', 'after-restart.jsonl');
    const anchors = await download('#export-anchors', 'after-restart-anchors.jsonl');
    const text = readFileSync(log, 'utf8');
    assert.ok(text.startsWith(beforeReload), 'the lines from before the crash are intact');
    const restart = text.trim().split('\n').map((line) => JSON.parse(line)).find((line) => line.kind === 'restart');
    assert.ok(restart, 'a restart line');
    assert.match(restart.data.reason, /the face engine stopped on an internal error/);
    assert.match(verify(log, '--kiosk-key', kioskKey, '--anchors', anchors), /chain intact/);
  });

  test('a stored log edited on the device stops the kiosk on the next start; only the operator, exporting it, starts a new log', async () => {
    // Someone with the device rewrites the review in the stored log.
    const edited = await page.evaluate(() => new Promise((resolve, reject) => {
      const request = indexedDB.open('veilwatch-audit');
      request.onsuccess = () => {
        const tx = request.result.transaction('lines', 'readwrite');
        const lines = tx.objectStore('lines');
        let seq;
        lines.openCursor().onsuccess = ({ target: { result: cursor } }) => {
          if (!cursor) return;
          if (seq === undefined && cursor.value.includes('"kind":"review"')) {
            seq = cursor.key;
            cursor.update(cursor.value.replace('"decision":"confirmed"', '"decision":"rejected"'));
          }
          cursor.continue();
        };
        tx.oncomplete = () => resolve(seq);
        tx.onerror = () => reject(tx.error);
      };
      request.onerror = () => reject(request.error);
    }));
    assert.ok(edited > 1);
    await page.reload();
    await page.waitForFunction(() => /The kiosk cannot start: the audit log stored on this device cannot be continued/.test(document.getElementById('status').textContent), null, { timeout: 120_000 });
    assert.match(await page.textContent('#status'), new RegExp(`line ${edited} was altered`));
    assert.equal(await page.isDisabled('#start'), true, 'nothing runs on a broken log');
    // The stored log can still be exported for investigation, unchanged.
    await page.click('details.operator summary');
    const text = readFileSync(await download('#export-audit', 'broken.jsonl'), 'utf8');
    assert.match(text, /"decision":"rejected"/);
    assert.match(verifyFails(join(scratch, 'broken.jsonl')), new RegExp(`line ${edited} was altered`));

    // The operator archives it: both files are exported as stored, and a new log says why it began.
    const downloads = [];
    page.on('download', (d) => downloads.push(d));
    await page.click('#archive-audit');
    await ready();
    assert.deepEqual(downloads.map((d) => d.suggestedFilename()), ['veilwatch-audit-archived.jsonl', 'veilwatch-audit-archived-anchors.jsonl']);
    await downloads[0].saveAs(join(scratch, 'archived.jsonl'));
    assert.equal(readFileSync(join(scratch, 'archived.jsonl'), 'utf8'), text);
    page.removeAllListeners('download');
    const fresh = readFileSync(await download('#export-audit', 'fresh.jsonl'), 'utf8').trim().split('\n').map((line) => JSON.parse(line));
    assert.deepEqual(fresh.map((line) => line.kind), ['start', 'restart']);
    assert.equal(fresh[0].data.kiosk_key, kioskKey);
    assert.match(fresh[1].data.reason, new RegExp(`archived the stored audit log \\(\\d+ lines\\).*line ${edited} was altered`));
  });
});

describe('audit anchors sent to the authority', { skip: !haveData }, () => {
  let scratch;
  let keys;
  let issuer;
  const veilwatch = (...args) => execFileSync(cli, ['--models', join(repo, 'models'), ...args], { encoding: 'utf8' });

  before(() => {
    scratch = mkdtempSync(join(tmpdir(), 'veilwatch-anchor-'));
    keys = join(scratch, 'keys');
    issuer = veilwatch('keygen', '--out', keys).trim().split('\n').pop();
    const person = join(scratch, 'people', 'Tony_Blair');
    mkdirSync(person, { recursive: true });
    for (let i = 2; i <= 6; i++) {
      const name = `Tony_Blair_${String(i).padStart(4, '0')}.jpg`;
      symlinkSync(join(lfw, 'Tony_Blair', name), join(person, name));
    }
    veilwatch('enroll', join(scratch, 'people'), '--keys', keys, '--out', join(scratch, 'oprf.vwl'), '--custody', 'authority', '--valid-until', '2099-01-01');
  });
  after(() => rmSync(scratch, { recursive: true, force: true }));

  test('in authority custody every signed head goes to /v1/anchor, and what is sent verifies against the exported log', async () => {
    const authorityOrigin = `http://127.0.0.1:${await freePort()}`;
    const { origin, process: server } = await serveKiosk(['--authority', authorityOrigin]);
    let authority;
    const browser = await launchWithCamera();
    try {
      const page = await browser.newPage();
      const anchorsSent = [];
      page.on('request', (r) => {
        if (r.method() === 'POST' && r.url() === `${authorityOrigin}/v1/anchor`) anchorsSent.push(r.postData());
      });
      await page.goto(origin);
      await page.waitForFunction(() => !document.getElementById('start').disabled, null, { timeout: 120_000 });
      const kioskKey = await createKioskKey(page);
      // The issuer registers the deployment and this kiosk at the authority, which grants CORS to
      // the kiosk's origin only; anchors are signed with the kiosk key like every authority call.
      const registration = join(scratch, 'anchors.vwr');
      veilwatch('registration', 'deployment', '--keys', keys, '--watchlist', join(scratch, 'oprf.vwl'), '--kiosk-key', kioskKey,
        '--faces-per-minute', '600', '--faces-per-day', '10000', '--faces-total', '100000', '--out', registration);
      authority = spawn(cli, ['authority', '--admin-listen', '127.0.0.1:0', '--keys', join(keys, 'authority'), '--listen', authorityOrigin.slice('http://'.length), '--allow-origin', origin,
        '--register', registration], { stdio: 'ignore' });
      // The issuer signs the deployment for this authority and this kiosk.
      writeFileSync(join(scratch, 'authority.json'), JSON.stringify({
        purpose: 'Browser test of audit anchoring', legalBasis: 'Test data (LFW)', operator: 'Veilwatch CI', location: 'Headless chromium',
        validFrom: '2020-01-01T00:00:00Z', validUntil: '2099-01-01T00:00:00Z', threshold: 53, thresholdFloor: 50,
        custody: { kind: 'authority', url: authorityOrigin }, queryRatePerMinute: 600, notice: 'Test deployment.', contact: 'ci@veilwatch.invalid',
      }));
      veilwatch('profile', 'sign', '--keys', keys, '--watchlist', join(scratch, 'oprf.vwl'), '--template', join(scratch, 'authority.json'),
        '--kiosk-key', kioskKey, '--out', join(scratch, 'oprf.vwp'));
      await page.setInputFiles('#watchlist-file', join(scratch, 'oprf.vwl'));
      await page.setInputFiles('#profile-file', join(scratch, 'oprf.vwp'));
      await page.fill('#issuer-key', issuer);
      await page.fill('#authority-url', authorityOrigin);
      await page.click('#load');
      await page.waitForFunction(() => /Matching is on/.test(document.getElementById('status').textContent), null, { timeout: 30_000 });
      // Loading signs the head; the send is counted (sent or failed) and shown, whatever the answer.
      await page.waitForFunction(() => /Anchored at the authority: [1-9]\d* sent, 0 failed/.test(document.getElementById('anchor-status').textContent),
        null, { timeout: 15_000 });
      assert.ok(anchorsSent.length >= 1, 'a signed head was POSTed to the authority');
      const sent = JSON.parse(anchorsSent.at(-1));
      assert.deepEqual(Object.keys(sent), ['kioskKey', 'seq', 'head', 'time', 'signature']);
      assert.equal(sent.kioskKey, kioskKey);
      const file = join(scratch, 'log.jsonl');
      const downloaded = page.waitForEvent('download');
      await page.click('#export-audit');
      await (await downloaded).saveAs(file);
      const anchors = join(scratch, 'sent.jsonl');
      writeFileSync(anchors, `${anchorsSent.join('\n')}\n`);
      assert.match(verify(file, '--kiosk-key', kioskKey, '--anchors', anchors), new RegExp(`lines 1–${sent.seq} are as the kiosk signed them`));
    } finally {
      await browser.close();
      server.kill();
      authority?.kill();
    }
  });
});
