// <veilwatch-kiosk mode="isolated"> as an attacker in the portal would probe it. A portal page on
// one loopback origin (a plain static server) embeds the kiosk served by `veilwatch serve
// --frame-ancestors PORTAL` from a second origin (examples/portal-isolated/, bundled with esbuild).
// The portal receives the kiosk's events, an alert included, but its script cannot read the kiosk's
// document, storage (kiosk key, audit log) or any frame or crop, no message it receives carries
// more than counts, ids, flags and codes, and every request goes to one of the two origins. A
// third origin that is not named cannot frame the kiosk at all.

import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import { build } from 'esbuild';

import { fakeCamera, freePort, haveLfw, launchWithCamera, lfw, repo, serveKiosk, staticServer } from '../harness.mjs';

const haveData = haveLfw('the isolated kiosk tests');
const EXAMPLE = join(repo, 'examples/portal-isolated');


/** Writes the example portal, bundled, into `dir`, framing the kiosk page at `kioskUrl`. */
async function writePortal(dir, kioskUrl) {
  mkdirSync(dir, { recursive: true });
  const html = readFileSync(join(EXAMPLE, 'index.html'), 'utf8').replace('https://kiosk.example/api/isolated-kiosk.html', kioskUrl);
  assert.ok(html.includes(kioskUrl));
  writeFileSync(join(dir, 'index.html'), html);
  copyFileSync(join(EXAMPLE, 'portal.js'), join(dir, 'source.js'));
  await build({
    entryPoints: [join(dir, 'source.js')], bundle: true, format: 'esm', outfile: join(dir, 'portal.js'), logLevel: 'error',
    alias: { 'veilwatch/element': join(repo, 'www/api/veilwatch-kiosk-element.js') },
  });
}

describe('isolated mode', { skip: !haveData }, () => {
  let scratch;
  let portal;
  let stranger;
  let kiosk;
  let browser;

  before(async () => {
    scratch = mkdtempSync(join(tmpdir(), 'veilwatch-isolated-'));
    const portalPort = await freePort();
    const portalOrigin = `http://127.0.0.1:${portalPort}`;
    kiosk = await serveKiosk(['--frame-ancestors', portalOrigin]);
    const kioskUrl = `${kiosk.origin}/api/isolated-kiosk.html`;
    await writePortal(join(scratch, 'portal'), kioskUrl);
    await writePortal(join(scratch, 'stranger'), kioskUrl);
    // The portal's server on the port the kiosk allows.
    portal = await staticServer(join(scratch, 'portal'), portalPort);
    stranger = await staticServer(join(scratch, 'stranger'));
    browser = await launchWithCamera(fakeCamera(join(scratch, 'camera.y4m'), [join(lfw, 'Colin_Powell/Colin_Powell_0001.jpg')], 60));
  });
  after(async () => {
    await browser?.close();
    for (const process of [portal?.server, stranger?.server, kiosk?.process]) process?.kill();
    rmSync(scratch, { recursive: true, force: true });
  });

  test('the portal gets status and alert events, and nothing it could read a face, crop or key from', async () => {
    const page = await browser.newPage();
    const requests = [];
    page.context().on('request', (request) => requests.push(`${request.method()} ${request.url()}`));
    await page.addInitScript(() => {
      window.seen = { messages: [], ready: 0, faces: 0, alerts: [] };
      // Every message that reaches the portal's window, as the portal's scripts (or an XSS) see it.
      window.addEventListener('message', (event) => window.seen.messages.push(event.data));
      document.addEventListener('ready', () => { window.seen.ready += 1; });
      document.addEventListener('faces', ({ detail }) => { window.seen.faces += detail.faces; });
      document.addEventListener('alert', ({ detail }) => window.seen.alerts.push(detail));
    });
    await page.goto(`${portal.origin}/`);
    await page.waitForFunction(() => window.seen.ready === 1, null, { timeout: 60_000 });

    // The operator, at the kiosk (inside the frame), starts the camera and enrols the face in view.
    const frame = page.frames().find((f) => f.url().startsWith(kiosk.origin));
    assert.ok(frame, 'the kiosk page is framed');
    await frame.click('veilwatch-kiosk >> [part~="start"]');
    await page.waitForFunction(() => window.seen.faces > 0, null, { timeout: 60_000 });
    await frame.evaluate(() => {
      const element = document.querySelector('veilwatch-kiosk');
      return element.kiosk.enrol(element.shadowRoot.querySelector('video'), 'Volunteer');
    });
    await page.waitForFunction(() => window.seen.alerts.length > 0, null, { timeout: 60_000 });
    const [alert] = await page.evaluate(() => window.seen.alerts);
    assert.deepEqual(Object.keys(alert).sort(), ['alert', 'track']);
    assert.match(await page.textContent('#log'), /is waiting for a reviewer/);

    // What crossed into the portal: plain counts, ids, flags and codes. No bytes, no record, no label.
    const crossed = await page.evaluate(() => window.seen.messages.map((m) => ({
      json: JSON.stringify(m),
      binary: JSON.stringify(m, (_, v) => (ArrayBuffer.isView(v) || v instanceof ArrayBuffer ? 'BINARY' : v)).includes('BINARY'),
    })));
    assert.ok(crossed.length > 3);
    for (const { json, binary } of crossed) {
      assert.equal(binary, false, json);
      assert.doesNotMatch(json, /Volunteer|probe|record|label|prfKey|kioskKey|photo/i, json);
    }

    // The portal's script tries to read the kiosk: its document, its storage, its key.
    const reads = await page.evaluate(async () => {
      const child = document.querySelector('veilwatch-kiosk').shadowRoot.querySelector('iframe').contentWindow;
      const attempt = (read) => { try { read(); return 'read'; } catch (error) { return error.name; } };
      return {
        document: attempt(() => child.document.body.innerHTML),
        indexedDB: attempt(() => child.indexedDB.open('veilwatch-audit')),
        video: attempt(() => child.document.querySelector('veilwatch-kiosk')),
        ownDatabases: (await indexedDB.databases()).map((d) => d.name),
      };
    });
    assert.deepEqual(reads, { document: 'SecurityError', indexedDB: 'SecurityError', video: 'SecurityError', ownDatabases: [] });
    // The kiosk's own origin does keep its audit log (so the portal's empty storage means something).
    assert.ok((await frame.evaluate(async () => (await indexedDB.databases()).map((d) => d.name))).includes('veilwatch-audit'));

    const foreign = requests.filter((r) => !r.startsWith(`GET ${portal.origin}/`) && !r.startsWith(`GET ${kiosk.origin}/`));
    assert.deepEqual(foreign, [], 'only GETs of the portal\'s and the kiosk\'s own files');
    await page.close();
  });

  test('a portal the kiosk does not name cannot frame it', { timeout: 60_000 }, async () => {
    const page = await browser.newPage();
    await page.addInitScript(() => {
      window.messages = 0;
      window.addEventListener('message', () => { window.messages += 1; });
    });
    const refused = new Promise((resolve) => page.on('console', (message) => {
      if (/frame-ancestors/.test(message.text())) resolve(message.text());
    }));
    await page.goto(`${stranger.origin}/`);
    assert.match(await refused, /violates the following Content Security Policy directive: "frame-ancestors [^"]+"\. The request has been blocked/);
    assert.equal(await page.evaluate(() => window.messages), 0, 'no kiosk message reached the stranger');
    await page.close();
  });
});
