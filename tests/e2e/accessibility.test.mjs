// axe-core (the accessibility engine browsers' own audits use) on the kiosk page, the public notice
// and <veilwatch-kiosk> in a page of its own: no serious or critical violation, on the page as it
// is once the models are loaded. axe is evaluated through the DevTools protocol, which the pages'
// CSP does not govern, so the pages run under their real policy. Also the states an unattended big
// screen shows: the operator panel opened, a problem in the assertive live region, full-screen
// kiosk mode, and <veilwatch-kiosk lang="cy"> announcing an error in Welsh.

import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import { launchWithCamera, serveKiosk } from '../harness.mjs';
import { ERROR_MESSAGES } from '../../www/api/error-messages.js';

const axeSource = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');

/** axe's serious and critical violations on `page`, as `rule: target, …` lines. */
async function seriousViolations(page) {
  await page.evaluate(axeSource);
  const { passes, violations } = await page.evaluate(async () => {
    const results = await window.axe.run(document);
    return {
      passes: results.passes.length,
      violations: results.violations.map((v) => ({ impact: v.impact, text: `${v.id}: ${v.nodes.map((n) => n.target.join(' ')).join(', ')}` })),
    };
  });
  assert.ok(passes > 10, `axe checked the page (${passes} rules passed)`);
  const minor = violations.filter((v) => v.impact === 'minor' || v.impact === 'moderate');
  if (minor.length > 0) console.log(`axe, minor or moderate on ${page.url()}: ${minor.map((v) => v.text).join('; ')}`);
  return violations.filter((v) => v.impact === 'serious' || v.impact === 'critical').map((v) => v.text);
}

describe('accessibility (axe-core)', () => {
  let kiosk;
  let browser;
  before(async () => {
    kiosk = await serveKiosk();
    browser = await launchWithCamera();
  });
  after(async () => {
    await browser?.close();
    kiosk?.process.kill();
  });

  test('the kiosk page, once its models are loaded', async () => {
    const page = await browser.newPage();
    await page.goto(`${kiosk.origin}/`);
    await page.waitForFunction(() => /Models loaded/.test(document.getElementById('status').textContent), null, { timeout: 60_000 });
    assert.deepEqual(await seriousViolations(page), []);
  });

  test('the kiosk page on a big screen: public view and operator side apart, the operator panel opened only on request, kiosk mode', async () => {
    const page = await browser.newPage({ viewport: { width: 1920, height: 1080 } });
    // Which screen wake locks the page asks for and releases (the browser's own API, observed).
    await page.addInitScript(() => {
      window.wakeLocks = [];
      const request = navigator.wakeLock?.request.bind(navigator.wakeLock);
      if (request) {
        navigator.wakeLock.request = async (type) => {
          window.wakeLocks.push(`request ${type}`);
          const sentinel = await request(type);
          const release = sentinel.release.bind(sentinel);
          sentinel.release = () => (window.wakeLocks.push('release'), release());
          return sentinel;
        };
      }
    });
    await page.goto(`${kiosk.origin}/`);
    await page.waitForFunction(() => /Models loaded/.test(document.getElementById('status').textContent), null, { timeout: 60_000 });
    const [publicView, operatorSide] = [await page.locator('.public-view').boundingBox(), await page.locator('.operator-view').boundingBox()];
    assert.ok(operatorSide.x >= publicView.x + publicView.width, `side by side: public view ${JSON.stringify(publicView)}, operator side ${JSON.stringify(operatorSide)}`);
    assert.ok(publicView.width > operatorSide.width, 'the public view is the larger');
    assert.equal(await page.isVisible('#watchlist-file'), false, 'the operator panel is closed until opened');
    await page.click('details.operator summary');
    assert.equal(await page.isVisible('#watchlist-file'), true);
    // A problem goes to the assertive region (role=alert), and the polite one is emptied.
    await page.click('#load');
    await page.waitForFunction(() => document.querySelector('#status [role="alert"]').textContent !== '');
    assert.match(await page.textContent('#status [role="alert"]'), /Choose a watchlist file first/);
    assert.equal(await page.textContent('#status [role="status"]'), '');
    assert.deepEqual(await seriousViolations(page), []);
    // Kiosk mode: full screen, the public view alone with the alerts, no operator panel.
    await page.click('#kiosk-mode');
    await page.waitForFunction(() => document.body.classList.contains('kiosk-mode'));
    assert.equal(await page.getAttribute('#kiosk-mode', 'aria-pressed'), 'true');
    assert.equal(await page.isVisible('details.operator'), false);
    assert.equal(await page.isVisible('#overlay'), true);
    assert.deepEqual(await seriousViolations(page), []);
    // While the camera runs the page asks for the screen to stay on, and lets it go on Stop.
    await page.click('#start');
    await page.waitForFunction(() => window.wakeLocks.length > 0 && !document.getElementById('stop').disabled, null, { timeout: 30_000 });
    assert.deepEqual(await page.evaluate(() => window.wakeLocks), ['request screen']);
    await page.click('#stop');
    await page.waitForFunction(() => window.wakeLocks.includes('release'), null, { timeout: 10_000 });
    await page.close();
  });

  test('<veilwatch-kiosk lang="cy"> announces an error in Welsh, in its assertive region', async () => {
    const page = await browser.newPage();
    await page.goto(`${kiosk.origin}/api/isolated-kiosk.html`);
    await page.waitForFunction(() => Boolean(document.querySelector('veilwatch-kiosk')?.kiosk), null, { timeout: 60_000 });
    // A second element, isolated but told no kiosk URL (a portal's mistake): OPTIONS_INVALID.
    await page.evaluate(() => {
      const welsh = Object.assign(document.createElement('veilwatch-kiosk'), { lang: 'cy' });
      welsh.setAttribute('mode', 'isolated');
      document.querySelector('main').append(welsh);
    });
    const announce = 'veilwatch-kiosk[lang="cy"] >> [role="alert"]';
    await page.waitForFunction(() => document.querySelector('veilwatch-kiosk[lang="cy"]').shadowRoot.querySelector('[role="alert"]').textContent !== '', null, { timeout: 60_000 });
    const text = await page.textContent(announce);
    assert.ok(text.startsWith(ERROR_MESSAGES.cy.OPTIONS_INVALID), text);
    assert.match(text, /mode="isolated" needs kiosk-url/);
    assert.equal(await page.getAttribute('veilwatch-kiosk[lang="cy"] >> [part~="detail"]', 'lang'), 'en', 'the engine\'s English detail is marked as English');
    assert.deepEqual(await seriousViolations(page), []);
    await page.close();
  });

  test('the public notice page', async () => {
    const page = await browser.newPage();
    await page.goto(`${kiosk.origin}/notice.html`);
    assert.deepEqual(await seriousViolations(page), []);
  });

  test('<veilwatch-kiosk>, in the isolated kiosk page, once its models are loaded', async () => {
    const page = await browser.newPage();
    await page.goto(`${kiosk.origin}/api/isolated-kiosk.html`);
    await page.waitForFunction(() => Boolean(document.querySelector('veilwatch-kiosk')?.kiosk), null, { timeout: 60_000 });
    assert.deepEqual(await seriousViolations(page), []);
  });
});
