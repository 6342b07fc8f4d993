// Sealed custody end to end in the browser kiosk (DESIGN §3.4): the page itself, its operator panel,
// its engine Worker and a real `veilwatch authority`, on real LFW faces through Chromium's fake
// camera. The issuer enrols with `--custody sealed`, so no list reaches the kiosk: the operator loads
// the signed sealed deployment descriptor in place of the watchlist file, with the authority's URL,
// under a profile that names the descriptor and sealed custody at that URL. A listed person seen in
// a photo that was not enrolled raises an alert that shows their record at once (released by the
// claim; there is no /v1/disclose); strangers raise none, though each of their faces goes to the
// authority and is claimed all the same; and a descriptor loaded for another authority than its
// profile names is refused with a visible error. Every request either page makes to anything but the
// kiosk's own origin is checked to be a POST to the authority of sealed custody's protocol
// (/v1/sealed/seed, keys, match, claim, prove: never /v1/evaluate or /v1/disclose), framed as
// src/sealed/protocol.rs says, or of the audit log's signed head (/v1/anchor), each signed by that
// page's kiosk key for the descriptor's deployment; the authority's own request log is checked too.

import { execFileSync, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import {
  cli, createKioskKey, fakeCamera, freePort, haveLfw, kioskSnapshot, launchWithCamera, lfw, repo, serveKiosk, waitForStatus,
} from '../harness.mjs';

const haveData = haveLfw('the sealed custody kiosk tests');
const veilwatch = (...args) => execFileSync(cli, ['--models', join(repo, 'models'), ...args], { encoding: 'utf8', stdio: 'pipe' });
const photo = (name, i) => join(lfw, name, `${name}_${String(i).padStart(4, '0')}.jpg`);

// Listed: Colin Powell from his photos 2..6 (the camera shows photo 1) and four others.
const LISTED = 'Colin_Powell';
const LABEL = 'Colin Powell';
const OTHERS = [['Tony_Blair', 5], ['Hugo_Chavez', 5], ['Abdoulaye_Wade', 4], ['Bono', 3]];
// Nobody listed: two people, one after the other, each a new track.
const STRANGERS = ['Aaron_Sorkin', 'Abdullah_Gul'];
/** The stranger faces that must have gone through the whole protocol without an alert. */
const STRANGER_FACES = 2;

const MAGIC_LINE = 'VEILWATCH-SEALED-DEPLOYMENT-V1';
const SEALED_PATHS = ['/v1/sealed/seed', '/v1/sealed/keys', '/v1/sealed/match', '/v1/sealed/claim', '/v1/sealed/prove'];
/** Where the kiosk anchors its audit log's signed head, at the authority of any custody. */
const ANCHOR_PATH = '/v1/anchor';
const ID_BYTES = 16;
const COMMITMENT_BYTES = 32;

/** Starts `veilwatch authority`; resolves with its origin, process and a getter of its log so far. */
async function startAuthority(args, port) {
  const origin = `http://127.0.0.1:${port}`;
  const child = spawn(cli, ['authority', '--admin-listen', '127.0.0.1:0', '--listen', `127.0.0.1:${port}`, ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
  let log = '';
  child.stderr.on('data', (d) => { log += d; });
  for (let i = 0; i < 200; i++) {
    try {
      await fetch(`${origin}/v1/health`);
      return { origin, child, log: () => log };
    } catch {
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  child.kill();
  throw new Error(`veilwatch authority did not come up at ${origin}: ${log}`);
}

/** The requests the authority logged (one line per request, by its HTTP server): `METHOD PATH STATUS`. */
function authorityRequests(log) {
  return [...log.matchAll(/request\{method=(\w+) path=(\S+?)\}: tower_http::trace::on_response: finished processing request latency=\S+ ms status=(\d+)/g)]
    .map(([, method, path, status]) => `${method} ${path} ${status}`);
}

/** Records every request of `context` that leaves for another origin than `kioskOrigin` (data: and
 * blob: URLs never leave the browser): `{origin, path, method, headers, body, status}`, where
 * `status` is null while the request is pending, else the HTTP status or why it failed. */
function recordOutbound(context, kioskOrigin) {
  const sent = [];
  const entries = new Map();
  context.on('request', (request) => {
    const url = new URL(request.url());
    if (url.protocol === 'data:' || url.protocol === 'blob:' || url.origin === kioskOrigin) return;
    const entry = { origin: url.origin, path: url.pathname + url.search, method: request.method(), headers: request.headers(),
      body: request.postDataBuffer() ?? Buffer.alloc(0), status: null };
    sent.push(entry);
    entries.set(request, entry);
  });
  context.on('requestfinished', (request) => {
    const entry = entries.get(request);
    if (!entry) return;
    entry.status = 'finished';
    request.response().then((response) => { entry.status = response?.status() ?? 'no response'; }, () => {});
  });
  context.on('requestfailed', (request) => {
    const entry = entries.get(request);
    if (entry) entry.status = `failed: ${request.failure()?.errorText}`;
  });
  return sent;
}

/** Whether the authority answered `request` with a success (2xx: /v1/sealed/keys answers 204). */
const answered = (request) => typeof request.status === 'number' && request.status >= 200 && request.status < 300;

const u16 = (body, at) => (body.length >= at + 2 ? body.readUInt16LE(at) : -1);
const u32 = (body, at) => (body.length >= at + 4 ? body.readUInt32LE(at) : -1);
/** How many slots a /v1/sealed/claim body claims. */
const claimed = (claim) => u16(claim.body, ID_BYTES);

/**
 * Why the outbound requests `sent` are not all sealed custody's protocol, as one kiosk with key
 * `kioskKey` speaks it for `deployment` to `authority`, or null. Each is a POST of one of the five
 * sealed paths, signed by that kiosk for that deployment, whose body has that path's framing
 * (src/sealed/protocol.rs): seed empty; keys id ‖ c0 length ‖ c0 ‖ rotation key; match id ‖ a query
 * c0 as long as the key's; claim the last match's id ‖ count ‖ count × 36 bytes; prove the same id ‖
 * count (the claim's) ‖ count × (length ‖ proof); or of the kiosk's signed audit head to /v1/anchor
 * (exactly the fields tests/egress.mjs allows). A preflight (OPTIONS, no body) of those paths may
 * show too.
 */
function protocolViolation(sent, { authority, kioskKey, deployment }) {
  let c0Bytes = null;
  let lastMatch = null;
  let lastClaim = null;
  for (const [i, { origin, path, method, headers, body }] of sent.entries()) {
    const what = `request ${i + 1}, ${method} ${origin}${path} (${body.length} bytes)`;
    if (origin !== authority) return `${what}: not to the authority`;
    if (![...SEALED_PATHS, ANCHOR_PATH].includes(path)) return `${what}: not a path of sealed custody's protocol (or an audit anchor)`;
    if (method === 'OPTIONS') {
      if (body.length) return `${what}: a preflight with a body`;
      continue;
    }
    if (method !== 'POST') return `${what}: not a POST`;
    if (headers['veilwatch-kiosk'] !== kioskKey) return `${what}: signed by ${headers['veilwatch-kiosk']}, not this kiosk's key`;
    if (headers['veilwatch-deployment'] !== deployment) return `${what}: for deployment ${headers['veilwatch-deployment']}, not ${deployment}`;
    if (!/^[0-9a-f]{128}$/.test(headers['veilwatch-signature'] ?? '')) return `${what}: unsigned`;
    const id = body.subarray(0, ID_BYTES);
    switch (path) {
      case ANCHOR_PATH: {
        let head;
        try { head = JSON.parse(body.toString('utf8')); } catch { head = null; }
        const fields = head && typeof head === 'object' ? Object.keys(head).sort().join() : '';
        if (fields !== 'head,kioskKey,seq,signature,time' || head.kioskKey !== kioskKey || !/^[0-9a-f]{64}$/.test(head.head)
          || !/^[0-9a-f]{128}$/.test(head.signature)) return `${what}: not exactly this kiosk's signed audit head`;
        break;
      }
      case '/v1/sealed/seed':
        if (body.length) return `${what}: a seed request has no body`;
        break;
      case '/v1/sealed/keys': {
        const length = u32(body, ID_BYTES);
        if (length <= 0 || body.length <= ID_BYTES + 4 + length) return `${what}: not seed id ‖ c0 length ‖ c0 ‖ rotation key`;
        c0Bytes = length;
        break;
      }
      case '/v1/sealed/match':
        if (c0Bytes === null) return `${what}: a match before any key was registered`;
        if (body.length !== ID_BYTES + c0Bytes) return `${what}: not seed id ‖ one query c0 of ${c0Bytes} bytes`;
        lastMatch = id;
        break;
      case '/v1/sealed/claim':
        if (!lastMatch?.equals(id)) return `${what}: does not claim the last match's query`;
        if (body.length !== ID_BYTES + 2 + claimed({ body }) * (4 + COMMITMENT_BYTES)) return `${what}: not query id ‖ count ‖ count × (block ‖ slot ‖ commitment)`;
        lastClaim = { id, count: claimed({ body }) };
        break;
      case '/v1/sealed/prove': {
        if (!lastClaim?.id.equals(id) || u16(body, ID_BYTES) !== lastClaim.count || lastClaim.count === 0) {
          return `${what}: not the proofs of the last claim of a slot or more`;
        }
        let at = ID_BYTES + 2;
        for (let k = 0; k < lastClaim.count && at + 2 <= body.length; k++) at += 2 + u16(body, at);
        if (at !== body.length) return `${what}: not query id ‖ count ‖ count × (length ‖ range proof)`;
        break;
      }
      default:
    }
  }
  return null;
}

/** What `sent` went to, for a failure message: `METHOD PATH status` each. */
const describeRequests = (sent) => `Requests: ${sent.map((r) => `${r.method} ${r.path} ${r.status ?? 'pending'}`).join(', ') || 'none'}.`;

/** Waits until `condition()` holds, checking every 250 ms; fails after `seconds` with `what` and
 * what the kiosk at `page` showed, and `context()`. */
async function until(page, condition, seconds, what, context) {
  const deadline = Date.now() + seconds * 1000;
  while (!(await condition())) {
    if (Date.now() > deadline) assert.fail(`${what} within ${seconds} s. The kiosk showed ${await kioskSnapshot(page)}. ${context()}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

describe('sealed custody in the browser kiosk', { skip: !haveData }, () => {
  let scratch;
  let issuer;
  let descriptor;
  let deployment;
  let profile;
  let kioskServer;
  let authority;
  let authorityOrigin;
  /** An authority URL the profile does not name (nothing listens there). */
  let elsewhere;
  /** The two kiosks: one whose camera shows the listed person, one whose camera shows strangers. */
  const kiosks = {};

  /** Opens the kiosk page in a browser whose camera shows `photos` in turn (each then a grey scene,
   * so that every photo is a new track), once its models are loaded, and creates its kiosk key. */
  async function openKiosk(name, photos, grey) {
    const browser = await launchWithCamera(fakeCamera(join(scratch, `${name}.y4m`), photos.flatMap((p) => [p, grey]), 2.5));
    const page = await browser.newPage();
    const sent = recordOutbound(page.context(), kioskServer.origin);
    await page.goto(kioskServer.origin);
    await page.waitForFunction(() => !document.getElementById('start').disabled, null, { timeout: 120_000 });
    // The text of each alert as the panel lists it, before any later update could change it.
    await page.evaluate(() => {
      window.alertsAsListed = [];
      new MutationObserver((records) => records.forEach(({ addedNodes }) => addedNodes.forEach((node) => {
        if (node.matches?.('li.alert')) window.alertsAsListed.push(node.textContent);
      }))).observe(document.getElementById('alert-list'), { childList: true });
    });
    return { browser, page, sent, kioskKey: await createKioskKey(page) };
  }

  /** Has the operator load the descriptor, the profile and the issuer key, with `authorityUrl`. */
  async function loadDeployment(page, authorityUrl) {
    if (!(await page.isVisible('#watchlist-file'))) await page.click('details.operator summary');
    await page.setInputFiles('#watchlist-file', descriptor);
    await page.setInputFiles('#profile-file', profile);
    await page.fill('#issuer-key', issuer);
    await page.fill('#authority-url', authorityUrl);
    await page.click('#load');
  }

  const alertsListed = (page) => page.evaluate(() => window.alertsAsListed);

  before(async () => {
    scratch = mkdtempSync(join(tmpdir(), 'veilwatch-sealed-kiosk-'));
    const keys = join(scratch, 'keys');
    issuer = veilwatch('keygen', '--out', keys).trim();
    const people = join(scratch, 'people');
    for (const [name, from, to] of [[LISTED, 2, 6], ...OTHERS.map(([other, count]) => [other, 1, count])]) {
      mkdirSync(join(people, name), { recursive: true });
      for (let i = from; i <= to; i++) symlinkSync(photo(name, i), join(people, name, `${name}_${String(i).padStart(4, '0')}.jpg`));
    }
    const material = join(scratch, 'sealed.json');
    veilwatch('enroll', people, '--keys', keys, '--out', material, '--custody', 'sealed', '--valid-until', '2099-01-01');
    assert.equal(JSON.parse(readFileSync(material, 'utf8')).entries, 1 + OTHERS.length, 'everyone was enrolled');
    descriptor = `${material}.deployment`;
    deployment = JSON.parse(readFileSync(material, 'utf8')).deployment;
    // The profile's threshold is the sealed deployment's (thousandths of cosine), as kiosks check.
    const { thresholdMilli } = JSON.parse(readFileSync(descriptor, 'utf8').split('\n')[1]);

    const grey = join(scratch, 'grey.jpg');
    execFileSync('ffmpeg', ['-loglevel', 'error', '-y', '-f', 'lavfi', '-i', 'color=gray:s=250x250', '-frames:v', '1', grey]);
    const port = await freePort();
    authorityOrigin = `http://127.0.0.1:${port}`;
    elsewhere = `http://127.0.0.1:${port === 65535 ? port - 1 : port + 1}`;
    kioskServer = await serveKiosk(['--authority', authorityOrigin]);
    // Both kiosks load their models at once; each makes its own key.
    [kiosks.listed, kiosks.strangers] = await Promise.all([
      openKiosk('listed', [photo(LISTED, 1)], grey),
      openKiosk('strangers', STRANGERS.map((name) => photo(name, 1)), grey),
    ]);
    const kioskKeys = [kiosks.listed.kioskKey, kiosks.strangers.kioskKey].flatMap((k) => ['--kiosk-key', k]);

    const registration = join(scratch, 'registration.vwr');
    veilwatch('registration', 'deployment', '--keys', keys, '--sealed', material, ...kioskKeys,
      '--faces-per-minute', '600', '--faces-per-day', '10000', '--faces-total', '100000', '--disclosures-per-hour', '100', '--out', registration);
    writeFileSync(join(scratch, 'template.json'), JSON.stringify({
      purpose: 'Browser test of sealed custody', legalBasis: 'Test data (LFW)', operator: 'Veilwatch CI', location: 'Headless chromium',
      validFrom: '2020-01-01T00:00:00Z', validUntil: '2099-01-01T00:00:00Z', threshold: thresholdMilli,
      thresholdFloor: thresholdMilli, custody: { kind: 'sealed', url: authorityOrigin }, queryRatePerMinute: 600, notice: 'Test deployment.', contact: 'ci@veilwatch.invalid',
    }));
    profile = join(scratch, 'sealed.vwp');
    veilwatch('profile', 'sign', '--keys', keys, '--watchlist', descriptor, '--template', join(scratch, 'template.json'), ...kioskKeys, '--out', profile);
    authority = await startAuthority(['--keys', join(keys, 'authority'), '--register', registration, '--state', join(scratch, 'state.sqlite3'),
      '--request-timeout', '120', '--allow-origin', kioskServer.origin], port);
  });
  after(async () => {
    for (const kiosk of [kiosks.listed, kiosks.strangers]) if (kiosk && !kiosk.closed) await kiosk.browser.close();
    kioskServer?.process.kill();
    authority?.child.kill();
    rmSync(scratch, { recursive: true, force: true });
  });

  test('the kiosk is given a signed descriptor of the deployment, which names no one', () => {
    const text = readFileSync(descriptor, 'utf8');
    const lines = text.split('\n');
    assert.equal(lines[0], MAGIC_LINE);
    assert.equal(JSON.parse(lines[1]).deployment, deployment, 'it names the deployment registered at the authority');
    assert.match(lines[2], new RegExp(`^issuer ${issuer} [0-9a-f]{128}$`), 'signed by the issuer');
    assert.ok(text.length < 4096, `${text.length} bytes: no gallery`);
    for (const name of [LABEL, ...OTHERS.map(([other]) => other.replace('_', ' '))]) assert.ok(!text.includes(name), `${name} is not in it`);
  });

  test('loaded for another authority than its profile names, the descriptor is refused, visibly, and nothing is sent', async () => {
    const { page, sent } = kiosks.strangers;
    await loadDeployment(page, elsewhere);
    await waitForStatus(page, /refused/, { timeout: 30_000 });
    const shown = await page.textContent('#status [role="alert"]');
    assert.ok(await page.isVisible('#status [role="alert"]'), 'the refusal is on screen');
    assert.match(shown, /custody/, shown);
    assert.ok(shown.includes(authorityOrigin) && shown.includes(elsewhere), `it names both authorities: ${shown}`);
    assert.match(await page.textContent('#watchlist-status'), /No watchlist loaded/);
    assert.equal(await page.evaluate(() => document.activeElement?.id), 'authority-url', 'the field to fix has the focus');
    assert.deepEqual(sent, [], `nothing left the page. ${describeRequests(sent)}`);
  });

  test('a listed person seen in another photo raises an alert that shows their record, over sealed custody only', async () => {
    const { page, sent, kioskKey } = kiosks.listed;
    await loadDeployment(page, authorityOrigin);
    await waitForStatus(page, /Matching is on/, { timeout: 30_000 });
    const panel = await page.textContent('#watchlist-status');
    assert.match(panel, /custody bfv-sealed \(sealed custody:/, panel);
    await page.click('#start');
    const context = () => describeRequests(sent);
    await until(page, async () => (await alertsListed(page)).length > 0, 60, 'no alert', context);
    const [first] = await alertsListed(page);
    assert.ok(first.includes(LABEL), `the alert shows the record as it is listed: ${first}`);
    assert.ok(await page.isVisible(`li.alert img[alt="Reference photo of ${LABEL}"]`), 'with the reference photo');
    // The face that alerted claimed a slot and proved it; the answers are in.
    await until(page, () => sent.some((r) => r.path === '/v1/sealed/prove' && answered(r)), 10, 'no proof of a claim was answered', context);
    await page.click('#stop');
    assert.ok(sent.some((r) => r.path === '/v1/sealed/claim' && r.method === 'POST' && claimed(r) > 0), `a slot was claimed. ${context()}`);
    for (const path of ['/v1/sealed/seed', '/v1/sealed/keys', '/v1/sealed/match', '/v1/sealed/claim']) {
      assert.ok(sent.some((r) => r.path === path && answered(r)), `${path} answered. ${context()}`);
    }
    assert.equal(protocolViolation(sent, { authority: authorityOrigin, kioskKey, deployment }), null, context());
    for (const text of await alertsListed(page)) assert.ok(text.includes(LABEL), `every alert is the listed person's: ${text}`);
    assert.ok(Number(await page.textContent('#attempts')) >= 1);
    assert.ok(Number(await page.textContent('#alert-count')) >= 1);

    const served = authorityRequests(authority.log());
    assert.ok(served.includes('POST /v1/sealed/match 200') && served.includes('POST /v1/sealed/claim 200'), served.join('\n'));
    assert.ok(!served.some((line) => /\/v1\/(evaluate|disclose|key-check)/.test(line)), `the authority saw no VOPRF request:\n${served.join('\n')}`);
  });

  test('strangers raise no alert, though each of their faces is matched and claimed at the authority', async () => {
    const { page, sent, kioskKey } = kiosks.strangers;
    await loadDeployment(page, authorityOrigin);
    await waitForStatus(page, /Matching is on/, { timeout: 30_000 });
    assert.match(await page.textContent('#watchlist-status'), /custody bfv-sealed \(sealed custody:/);
    await page.click('#start');
    // A face has gone through the whole protocol once its claim was answered (nothing claimed) or
    // its proofs were (a decoy claimed): only then could it have raised an alert.
    const finished = () => sent.filter((r) => r.method === 'POST' && answered(r)
      && ((r.path === '/v1/sealed/claim' && claimed(r) === 0) || r.path === '/v1/sealed/prove')).length;
    const context = () => describeRequests(sent);
    await until(page, async () => finished() >= STRANGER_FACES && Number(await page.textContent('#attempts')) >= STRANGER_FACES, 75,
      `${STRANGER_FACES} stranger faces did not finish`, context);
    // What a finished face raised has reached the page by now.
    await page.waitForTimeout(1_000);
    assert.deepEqual(await alertsListed(page), [], `no alert. ${context()}`);
    assert.equal(await page.textContent('#alert-count'), '0');
    assert.ok(Number(await page.textContent('#attempts')) >= STRANGER_FACES);
    assert.ok(sent.filter((r) => r.path === '/v1/sealed/match' && answered(r)).length >= STRANGER_FACES, context());
    assert.equal(protocolViolation(sent, { authority: authorityOrigin, kioskKey, deployment }), null, context());
    assert.ok(!authorityRequests(authority.log()).some((line) => /\/v1\/(evaluate|disclose|key-check)/.test(line)));
  });

  // tests/egress.mjs checks every request of these browsers against G1's allowlist (sealed custody's
  // paths with their bodies' framing among them), and protocolViolation checks the protocol itself
  // (path, signature, body framing) over everything either kiosk sent.
  test('everything the kiosks sent is within the egress allowlist (G1)', async () => {
    for (const kiosk of [kiosks.listed, kiosks.strangers]) {
      kiosk.closed = true;
      const violations = await kiosk.browser.closeTakingViolations();
      assert.equal(protocolViolation(kiosk.sent, { authority: authorityOrigin, kioskKey: kiosk.kioskKey, deployment }), null,
        describeRequests(kiosk.sent));
      assert.deepEqual(violations, []);
    }
  });
});
