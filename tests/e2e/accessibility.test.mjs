// axe-core (the accessibility engine browsers' own audits use) on the kiosk page, the public notice
// and <veilwatch-kiosk> in a page of its own: no serious or critical violation, on the page as it
// is once the models are loaded. axe is evaluated through the DevTools protocol, which the pages'
// CSP does not govern, so the pages run under their real policy.

import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import { launchWithCamera, serveKiosk } from '../harness.mjs';

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
