// The npm package as a portal developer gets it: `tools/build-package` (make package) packs it,
// the tarball is installed with npm into a scratch portal project, the portal code of
// examples/portal-minimal/ is bundled with esbuild, and the result runs in Chromium with a fake
// camera: the <veilwatch-kiosk> element reports its model download, faces, and an alert after the
// demonstration enrolment, and the page fetches nothing but its own origin's files. The package's
// exports offer no call that hands out an embedding, a code or a score.

import { execFileSync, spawn } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import { build } from 'esbuild';

import { cli, fakeCamera, freePort, haveLfw, launchWithCamera, lfw, repo } from '../harness.mjs';
import { registerKioskOrigin } from '../egress.mjs';

const haveData = haveLfw('the npm package tests');
const EXAMPLE = join(repo, 'examples/portal-minimal');
// Name fragments of calls that would hand out biometric data (as in production_package.test.mjs).
const DENIED = /cosine|embedding|benchmark|bench|code|score|crop|template|similarity|lsh/i;

/** The names a module's source exports (`export function|class|const NAME`, `export { A as B }`). */
function exportedNames(source) {
  const names = [...source.matchAll(/^export (?:async )?(?:function|class|const|let) (\w+)/gm)].map((m) => m[1]);
  for (const [, list] of source.matchAll(/^export \{([^}]*)\}/gm)) {
    names.push(...list.split(',').map((item) => item.trim().split(/\s+as\s+/).pop()).filter(Boolean));
  }
  return names;
}

describe('the npm package', () => {
  let scratch;
  let tarball;
  let installed;

  before(() => {
    execFileSync(join(repo, 'tools/build-package'), { stdio: 'inherit' });
    const version = readFileSync(join(repo, 'Cargo.toml'), 'utf8').match(/^version = "(.*)"$/m)[1];
    tarball = join(repo, `dist/npm/veilwatch-${version}.tgz`);
    scratch = mkdtempSync(join(tmpdir(), 'veilwatch-portal-'));
    writeFileSync(join(scratch, 'package.json'), JSON.stringify({ name: 'a-portal', private: true, type: 'module' }));
    execFileSync('npm', ['install', '--offline', '--no-audit', '--no-fund', '--silent', tarball], { cwd: scratch, stdio: 'inherit' });
    installed = join(scratch, 'node_modules/veilwatch');
  });
  after(() => rmSync(scratch, { recursive: true, force: true }));

  test('package.json: exports, types, files, no side effects, a version and a licence', () => {
    const manifest = JSON.parse(readFileSync(join(installed, 'package.json'), 'utf8'));
    assert.match(manifest.version, /^\d+\.\d+\.\d+$/);
    assert.equal(manifest.license, 'Apache-2.0');
    assert.equal(manifest.sideEffects, false);
    assert.deepEqual(Object.keys(manifest.exports).sort(), ['.', './element', './models.json', './package.json', './worker']);
    for (const entry of ['.', './element']) {
      for (const file of Object.values(manifest.exports[entry])) readFileSync(join(installed, file));
    }
    readFileSync(join(installed, manifest.types));
    // Both engine builds and the glue, byte for byte the production package (never pkg-bench/).
    for (const file of ['veilwatch_bg.wasm', 'veilwatch_relaxed_bg.wasm', 'veilwatch.js', 'engine-wasm.js']) {
      assert.ok(readFileSync(join(installed, 'pkg', file)).equals(readFileSync(join(repo, 'pkg', file))), `pkg/${file} is pkg/'s`);
    }
    const models = JSON.parse(readFileSync(join(installed, 'models.json'), 'utf8')).models;
    assert.deepEqual(models.map((m) => m.file).sort(), readdirSync(join(repo, 'models')).filter((f) => f.endsWith('.onnx')).sort());
    for (const { file, sha256 } of models) {
      assert.equal(execFileSync('sha256sum', [join(repo, 'models', file)], { encoding: 'utf8' }).split(' ')[0], sha256);
    }
  });

  test('its exports contain no embedding, code or score call', async () => {
    const api = await import(join(installed, 'api/create-kiosk.js'));
    assert.deepEqual(Object.keys(api).sort(), ['VeilwatchError', 'VeilwatchKiosk', 'archiveAuditLog', 'createKiosk', 'errorMessage', 'isVeilwatchError', 'storedAudit']);
    const methods = Object.getOwnPropertyNames(api.VeilwatchKiosk.prototype);
    const element = exportedNames(readFileSync(join(installed, 'api/veilwatch-kiosk-element.js'), 'utf8'));
    assert.deepEqual(element.sort(), ['VeilwatchKioskElement', 'defineVeilwatchKiosk']);
    for (const name of [...Object.keys(api), ...methods, ...element]) assert.doesNotMatch(name, DENIED, name);
  });

  test('a TypeScript portal type-checks against the installed package; a decision outside the union does not', () => {
    const portal = (decision) => `import { archiveAuditLog, createKiosk, isVeilwatchError, storedAudit, type ReviewDecision, type VeilwatchKiosk } from 'veilwatch';
import { defineVeilwatchKiosk } from 'veilwatch/element';
defineVeilwatchKiosk();
const options = { baseUrl: '/veilwatch/', modelsUrl: '/models/', onProgress: ({ loaded, total }: { loaded: number; total: number }) => console.log(loaded / total) };
let kiosk: VeilwatchKiosk;
try {
  kiosk = await createKiosk(options);
} catch (error) {
  if (!isVeilwatchError(error) || error.code !== 'AUDIT_LOG_BROKEN') throw error;
  const archived = await archiveAuditLog(error);
  console.log(archived.log, archived.heads, archived.lines);
  kiosk = await createKiosk({ ...options, archived });
}
kiosk.addEventListener('anchor', ({ detail }) => console.log(detail.signedSeq, detail.sent, detail.failed, detail.lastFailure));
kiosk.addEventListener('restart', ({ detail }) => console.log(detail.reason, detail.unreviewed.map((id) => id + 1)));
kiosk.addEventListener('matched', ({ detail }) => console.log(detail.counters.alerts, detail.matchingError));
kiosk.addEventListener('disclosure', ({ detail }) => console.log(detail.alert, detail.record?.label ?? detail.material));
console.log(kiosk.operatingPointChart?.length, kiosk.kioskPublicKey, (await kiosk.auditHead())?.seq, (await storedAudit()).lines);
kiosk.addEventListener('alert', ({ detail }) => {
  const decision: ReviewDecision = ${JSON.stringify(decision)};
  kiosk.review(detail.id, decision, 'A. Reviewer').catch((error: unknown) => { if (isVeilwatchError(error)) console.log(error.code); });
});
await kiosk.run('camera');
`;
    const tsc = (decision) => {
      writeFileSync(join(scratch, 'portal.ts'), portal(decision));
      try {
        execFileSync(join(repo, 'node_modules/.bin/tsc'), ['--noEmit', '--strict', '--target', 'es2022', '--lib', 'esnext,dom',
          '--module', 'nodenext', '--moduleResolution', 'nodenext', 'portal.ts'], { cwd: scratch, encoding: 'utf8' });
        return '';
      } catch (error) {
        return error.stdout;
      }
    };
    assert.equal(tsc('confirm'), '');
    assert.match(tsc('maybe'), /'"maybe"' is not assignable to type 'ReviewDecision'/);
  });

  test('the element speaks English and Welsh, every message in both', async () => {
    const { MESSAGES, messagesFor } = await import(join(installed, 'api/element-messages.js'));
    assert.deepEqual(Object.keys(MESSAGES).sort(), ['cy', 'en']);
    assert.deepEqual(Object.keys(MESSAGES.cy).sort(), Object.keys(MESSAGES.en).sort());
    assert.equal(messagesFor('cy-GB').start, 'Dechrau’r camera');
    assert.equal(messagesFor('fr').start, 'Start camera', 'English for a language it does not have');
    assert.equal(messagesFor('cy').progress(5_300_000, 10_790_000), 'Yn llwytho’r modelau wynebau… 5 MB o 11 MB');
  });

  test('the portal example, bundled with esbuild, runs the kiosk in Chromium from same-origin files only', { skip: !haveData }, async (t) => {
    const portalCode = ['index.html', 'portal.js'].map((f) => readFileSync(join(EXAMPLE, f), 'utf8'))
      .join('').split('\n').filter((line) => line.trim() !== '');
    assert.ok(portalCode.length <= 15, `the example portal is ${portalCode.length} lines`);

    const publicDir = join(scratch, 'public');
    mkdirSync(publicDir);
    copyFileSync(join(EXAMPLE, 'index.html'), join(publicDir, 'index.html'));
    copyFileSync(join(EXAMPLE, 'portal.js'), join(scratch, 'portal.js'));
    await build({ entryPoints: [join(scratch, 'portal.js')], bundle: true, format: 'esm', outfile: join(publicDir, 'portal.js'), absWorkingDir: scratch, logLevel: 'error' });

    // Models from elsewhere: the right detector beside a recognizer with one byte changed.
    const tampered = join(scratch, 'tampered-models');
    mkdirSync(tampered);
    copyFileSync(join(repo, 'models/face_detection_yunet_2023mar_int8bq.onnx'), join(tampered, 'face_detection_yunet_2023mar_int8bq.onnx'));
    const recognizer = readFileSync(join(repo, 'models/face_recognition_sface_2021dec_int8bq.onnx'));
    recognizer[recognizer.length >> 1] ^= 1;
    writeFileSync(join(tampered, 'face_recognition_sface_2021dec_int8bq.onnx'), recognizer);

    const port = await freePort();
    const origin = `http://127.0.0.1:${port}`;
    // The egress check (tests/egress.mjs) lets the portal page GET these files only.
    registerKioskOrigin(origin, [['/', publicDir], ['/veilwatch', installed], ['/models', join(repo, 'models')], ['/tampered-models', tampered]]);
    const server = spawn(cli, ['serve', '--listen', `127.0.0.1:${port}`, '--mount', `/=${publicDir}`,
      '--mount', `/veilwatch=${installed}`, '--mount', `/models=${join(repo, 'models')}`, '--mount', `/tampered-models=${tampered}`],
    { stdio: 'ignore' });
    t.after(() => server.kill());
    for (let i = 0; i < 100; i++) {
      try { if ((await fetch(origin)).ok) break; } catch { await new Promise((r) => setTimeout(r, 100)); }
    }

    const camera = fakeCamera(join(scratch, 'camera.y4m'), [join(lfw, 'Colin_Powell/Colin_Powell_0001.jpg')], 60);
    const browser = await launchWithCamera(camera);
    t.after(() => browser.close());
    const page = await browser.newPage();
    const requests = [];
    page.on('request', (request) => requests.push(`${request.method()} ${request.url()}`));
    page.context().on('request', (request) => requests.push(`${request.method()} ${request.url()}`));
    // The element's events bubble out of its shadow root to the document.
    await page.addInitScript(() => {
      window.seen = { progress: [], ready: 0, faces: 0, alerts: [] };
      document.addEventListener('progress', ({ detail }) => window.seen.progress.push(detail));
      document.addEventListener('ready', () => { window.seen.ready += 1; });
      document.addEventListener('faces', ({ detail }) => { window.seen.faces += detail.faces.length; });
      document.addEventListener('alert', ({ detail }) => window.seen.alerts.push({ track: detail.track, label: detail.record?.label }));
    });
    await page.goto(`${origin}/`);
    await page.waitForFunction(() => window.seen.ready === 1, null, { timeout: 60_000 });
    const progress = await page.evaluate(() => window.seen.progress);
    const last = progress.at(-1);
    assert.ok(progress.length > 2, 'the download reports its progress as it streams');
    assert.ok(last.total > 10_000_000 && last.loaded === last.total, `progress ends at the models' size: ${JSON.stringify(last)}`);
    assert.match(await page.textContent('veilwatch-kiosk >> [part~="status"]'), /Models loaded/);

    await page.click('veilwatch-kiosk >> [part~="start"]');
    await page.waitForFunction(() => window.seen.faces > 0, null, { timeout: 60_000 });
    // Demonstration mode: enrol the face in view; the kiosk must then alert on it.
    const count = await page.evaluate(() => {
      const element = document.querySelector('veilwatch-kiosk');
      return element.kiosk.enrol(element.shadowRoot.querySelector('video'), 'Volunteer');
    });
    assert.equal(count, 1);
    await page.waitForFunction(() => window.seen.alerts.length > 0, null, { timeout: 60_000 });
    assert.equal((await page.evaluate(() => window.seen.alerts))[0].label, 'Volunteer');
    // The alert is announced in the assertive live region, in words.
    assert.match(await page.textContent('veilwatch-kiosk >> [role="alert"]'), /^Alert on track \d+: waiting for a person to review it/);

    // Kiosk mode for an unattended screen: the element, alone, full screen.
    await page.click('veilwatch-kiosk >> [part~="fullscreen"]');
    await page.waitForFunction(() => document.fullscreenElement?.localName === 'veilwatch-kiosk', null, { timeout: 10_000 });

    // A model that is not the pinned one is refused, whatever modelsUrl serves it.
    const refusal = await page.evaluate(() => import('/veilwatch/api/create-kiosk.js')
      .then(({ createKiosk }) => createKiosk({ baseUrl: '/veilwatch/', modelsUrl: '/tampered-models/' }))
      .then(() => null, (error) => ({ code: error.code, message: error.message })));
    assert.equal(refusal?.code, 'MODEL_DOWNLOAD_FAILED');
    assert.match(refusal.message, /face_recognition_sface_2021dec_int8bq\.onnx is not the pinned model/);

    const foreign = requests.filter((r) => !r.startsWith(`GET ${origin}/`));
    assert.deepEqual(foreign, [], 'every request is a GET of the portal\'s own origin');
    assert.ok(requests.some((r) => r.endsWith('/veilwatch/kiosk-worker.js')), 'the engine runs in the package\'s Worker');
  });
});
