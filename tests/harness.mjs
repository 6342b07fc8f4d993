// What the node tests (tests/e2e/) and the browser benchmark (tests/bench/) share: where things are,
// the rule for missing face photos, a loopback `veilwatch serve` for the kiosk, a fake camera made
// from photos, and Chromium with that camera.

import { execFileSync, spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

import { chromium } from 'playwright-core';

import { registerKioskOrigin, watchBrowser } from './egress.mjs';

export const repo = resolve(dirname(fileURLToPath(import.meta.url)), '..');
export const targetDir = process.env.CARGO_TARGET_DIR ?? join(process.env.HOME, '.cache/veilwatch/target');
export const cli = process.env.VEILWATCH_BIN ?? join(targetDir, 'release/veilwatch');
export const data = process.env.VEILWATCH_DATA ?? join(repo, '../shared/data');
export const lfw = join(data, 'lfw/images');
export const chromiumPath = process.env.CHROMIUM ?? '/usr/bin/chromium';

/** Whether the LFW photos are there. Without them the caller's tests are skipped, loudly (`what`
 * names them), except under CI=true, where a missing data path is a failure. */
export function haveLfw(what) {
  if (existsSync(lfw)) return true;
  if (process.env.CI === 'true') throw new Error(`LFW data not found at ${lfw}; CI=true requires it`);
  console.error(`\n!!! SKIPPED: LFW data not found at ${lfw} (set VEILWATCH_DATA); ${what} did not run !!!\n`);
  return false;
}

export const freePort = () => new Promise((ok) => {
  const s = createServer().listen(0, '127.0.0.1', () => { const { port } = s.address(); s.close(() => ok(port)); });
});

/** `veilwatch serve` for the kiosk (www/, pkg/, models/ and any `extraArgs`, such as more mounts) on a
 * free loopback port; resolves once it answers. */
export async function serveKiosk(extraArgs = [], { www = join(repo, 'www') } = {}) {
  const port = await freePort();
  const origin = `http://127.0.0.1:${port}`;
  const mounts = [['/', www], ['/pkg', join(repo, 'pkg')], ['/models', join(repo, 'models')]];
  extraArgs.forEach((arg, i) => {
    if (arg === '--mount') mounts.push(extraArgs[i + 1].split('='));
  });
  // What the egress check (tests/egress.mjs) lets a page GET from this origin: these files only.
  registerKioskOrigin(origin, mounts);
  const process = spawn(cli, ['serve', '--listen', `127.0.0.1:${port}`, ...extraArgs, '--mount', `/=${www}`,
    '--mount', `/pkg=${join(repo, 'pkg')}`, '--mount', `/models=${join(repo, 'models')}`], { stdio: 'ignore' });
  for (let i = 0; i < 100; i++) {
    try { if ((await fetch(origin)).ok) return { origin, process }; } catch { await new Promise((r) => setTimeout(r, 100)); }
  }
  process.kill();
  throw new Error(`veilwatch serve did not come up at ${origin}`);
}

/** `python3 -m http.server` for `dir` on a loopback port (`port`, or a free one): plain static
 * hosting, no CSP or headers of ours, as a campaigner's host or a portal's own would be. What the
 * egress check lets a page GET from it is the folder's files. Resolves with `{origin, server}` once
 * it answers. */
export async function staticServer(dir, port) {
  port ??= await freePort();
  const origin = `http://127.0.0.1:${port}`;
  registerKioskOrigin(origin, [['/', dir]]);
  const server = spawn('python3', ['-m', 'http.server', '--bind', '127.0.0.1', '--directory', dir, String(port)], { stdio: 'ignore' });
  for (let i = 0; i < 100; i++) {
    try { if ((await fetch(origin)).ok) return { origin, server }; } catch { await new Promise((r) => setTimeout(r, 100)); }
  }
  server.kill();
  throw new Error(`python3 -m http.server did not come up at ${origin}`);
}

/**
 * The ES modules a script under www/ loads, found by reading their static and literal dynamic
 * imports (`import … from './x.js'`, `export … from`, `import('./x.js')`), from `entry` (a path
 * under www/) on: their paths as the page requests them ('/kiosk.js', '/pkg/veilwatch.js'). The walk
 * reads each file it finds under www/ and goes no further than `stopAt(path)` allows (a module it
 * stops at is listed, not read); a module that is not under www/ (the engine in pkg/) is listed.
 */
export function moduleGraph(entry, { stopAt = () => false } = {}) {
  const www = join(repo, 'www');
  const found = new Set();
  const visit = (path) => {
    if (found.has(path)) return;
    found.add(path);
    const file = join(www, path);
    if (stopAt(path) || !existsSync(file)) return;
    const source = readFileSync(file, 'utf8');
    const specifiers = [...source.matchAll(/(?:^|\n)\s*(?:import|export)\s[^;]*?\bfrom\s*'([^']+)'|\bimport\(\s*'([^']+)'\s*\)/g)]
      .map((m) => m[1] ?? m[2]).filter((s) => s.startsWith('.'));
    for (const specifier of specifiers) visit(`/${relative(www, resolve(dirname(file), specifier))}`);
  };
  visit(entry.startsWith('/') ? entry : `/${entry}`);
  return found;
}

/** A 640×480 fake camera (.y4m) at `fps`: each photo centred on grey for `seconds`. */
export function fakeCamera(path, photos, seconds, fps = 10) {
  const inputs = photos.flatMap((p) => ['-loop', '1', '-t', String(seconds), '-i', p]);
  const chains = photos.map((_, i) => `[${i}:v]scale=-2:480,pad=640:480:(ow-iw)/2:0:gray,fps=${fps},format=yuv420p,setsar=1[v${i}]`);
  const concat = `${photos.map((_, i) => `[v${i}]`).join('')}concat=n=${photos.length}:v=1:a=0[out]`;
  execFileSync('ffmpeg', ['-loglevel', 'error', '-y', ...inputs, '-filter_complex', [...chains, concat].join(';'), '-map', '[out]', path]);
  return path;
}

/** Headless Chromium whose camera is `cameraFile` (none: the page is allowed a camera but gets the
 * browser's own fake pattern). Every request of every page, Worker and service worker in it is
 * checked against the egress allowlist (tests/egress.mjs); `close()` throws if one broke it. */
export const launchWithCamera = async (cameraFile) => watchBrowser(await chromium.launch({
  executablePath: chromiumPath,
  args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
    '--disable-component-update', '--disable-sync', '--use-fake-ui-for-media-stream', '--use-fake-device-for-media-stream',
    ...(cameraFile ? [`--use-file-for-fake-video-capture=${cameraFile}`] : [])],
}));

/** Has the operator of the kiosk page at `page` create its kiosk key with the panel's "Create kiosk
 * key" button (a non-extractable WebCrypto Ed25519 key kept in the page's IndexedDB, so one per
 * browser context and origin); resolves with the public key (64 hex digits) the panel then shows,
 * the key to list in a profile with `veilwatch profile sign --kiosk-key`. */
export async function createKioskKey(page) {
  if (!(await page.evaluate(() => document.querySelector('details.operator').open))) await page.click('details.operator summary');
  await page.click('#create-kiosk-key');
  await page.waitForFunction(() => /^[0-9a-f]{64}$/.test(document.getElementById('kiosk-key').textContent), null, { timeout: 10_000 });
  return page.textContent('#kiosk-key');
}

/** What the kiosk page at `page` shows now: its status lines and counters, for a failure message. */
export async function kioskSnapshot(page) {
  return page.evaluate(() => ['status', 'watchlist-status', 'frames', 'faces-processed', 'rejected', 'attempts', 'alert-count']
    .map((id) => `#${id}: ${JSON.stringify(document.getElementById(id)?.textContent?.trim() ?? null)}`).join('; '));
}

/** Waits until the kiosk's `#status` line says something that matches `pattern`. When it does not
 * within `timeout` ms the error says what the kiosk showed instead (and `context()`, what the test
 * knows besides), so that a failure on a loaded machine explains itself. */
export async function waitForStatus(page, pattern, { timeout = 60_000, context = () => '' } = {}) {
  try {
    await page.waitForFunction(([source, flags]) => new RegExp(source, flags).test(document.getElementById('status').textContent),
      [pattern.source, pattern.flags], { timeout });
  } catch (error) {
    const shown = await kioskSnapshot(page).catch((e) => `(the page could not be read: ${e.message})`);
    throw new Error(`#status did not match ${pattern} within ${timeout} ms. The kiosk showed ${shown}. ${context()}`, { cause: error });
  }
}
