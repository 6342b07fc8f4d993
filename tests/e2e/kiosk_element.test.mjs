// <veilwatch-kiosk> on a page served over plain HTTP from a host name (not a secure context, as a
// portal would be without TLS): the kiosk does not start, and says why (INSECURE_CONTEXT, in the
// assertive live region) instead of "No camera was found"; with lang="cy" it says so in Welsh.
// The kiosk page itself says so too, in its own assertive region, and offers no Start camera.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import { chromium } from 'playwright-core';

import { chromiumPath, serveKiosk } from '../harness.mjs';

describe('<veilwatch-kiosk> outside a secure context', () => {
  let kiosk;
  let browser;
  let url;
  before(async () => {
    kiosk = await serveKiosk();
    // kiosk.invalid resolves to the loopback server; unlike 127.0.0.1 it is not a secure context.
    browser = await chromium.launch({
      executablePath: chromiumPath,
      args: ['--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking', '--use-fake-ui-for-media-stream',
        '--use-fake-device-for-media-stream', '--host-resolver-rules=MAP kiosk.invalid 127.0.0.1'],
    });
    url = `http://kiosk.invalid:${new URL(kiosk.origin).port}/api/isolated-kiosk.html`;
  });
  after(async () => {
    await browser?.close();
    kiosk?.process.kill();
  });

  test('the kiosk refuses to start and says why, in English and in Welsh', async () => {
    const page = await browser.newPage();
    await page.addInitScript(() => {
      window.codes = [];
      document.addEventListener('error', ({ detail }) => window.codes.push(detail.code));
    });
    await page.goto(url);
    assert.equal(await page.evaluate(() => window.isSecureContext), false);
    await page.waitForFunction(() => window.codes.length === 1, null, { timeout: 30_000 });
    assert.match(await page.textContent('veilwatch-kiosk >> [role="alert"]'), /^This page is not served over HTTPS/);
    await page.evaluate(() => {
      const welsh = Object.assign(document.createElement('veilwatch-kiosk'), { lang: 'cy' });
      welsh.setAttribute('base-url', '../');
      document.querySelector('main').append(welsh);
    });
    await page.waitForFunction(() => window.codes.length === 2, null, { timeout: 30_000 });
    assert.deepEqual(await page.evaluate(() => window.codes), ['INSECURE_CONTEXT', 'INSECURE_CONTEXT']);
    assert.match(await page.textContent('veilwatch-kiosk[lang="cy"] >> [role="alert"]'), /^Nid yw’r dudalen hon yn cael ei gweini dros HTTPS/);
    assert.equal(await page.textContent('veilwatch-kiosk[lang="cy"] >> [part~="start"]'), 'Dechrau’r camera');
    await page.close();
  });

  test('the kiosk page refuses to start and says why, in its assertive region', async () => {
    const page = await browser.newPage();
    await page.goto(`http://kiosk.invalid:${new URL(kiosk.origin).port}/`);
    await page.waitForFunction(() => document.querySelector('#status [role="alert"]').textContent !== '', null, { timeout: 30_000 });
    assert.match(await page.textContent('#status [role="alert"]'), /^This page is not served over HTTPS, so the browser offers it no camera\. Open it over HTTPS\.$/);
    assert.equal(await page.isDisabled('#start'), true);
    await page.close();
  });
});
