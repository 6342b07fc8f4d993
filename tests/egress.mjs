// G1, checked on every request a browser test makes: what the kiosk may send, as an allowlist.
//
// Every browser that tests/harness.mjs launches watches every request of every page, dedicated
// Worker and service worker in it (Playwright's context `request` event, bodies included) and
// checks it against the rules below; a test file whose browsers sent anything else fails, so every
// browser test in tests/e2e/ is an egress test too. tests/e2e/egress.test.mjs shows that the check
// fails on a kiosk Worker changed to send frame bytes to its own origin or to the authority.
//
// The rules (a request that matches none is a violation):
// - data: and blob: URLs (they never leave the browser);
// - to a kiosk origin (a `veilwatch serve` started by the harness): GET or HEAD of one of the app's
//   own files (a regular file under one of that server's mounts, or one of the few deployment files
//   the app asks for whether or not they are there), with no body, no custom header, and no query
//   string but the portal's origin on the isolated kiosk's page;
// - to any other origin (an authority): a CORS preflight (OPTIONS, no body) of an authority path;
//   POST /v1/evaluate whose body is 1 to 4 096 canonical ristretto255 encodings of non-identity group
//   elements (a blinded VOPRF query: frame or embedding bytes pass for one 32-byte chunk in ~16);
//   POST /v1/key-check with exactly one such element; POST /v1/anchor with a signed audit head
//   (exactly kioskKey, seq, head, time, signature, each of its format); POST /v1/disclose with
//   exactly {handle: 32 hex digits, proof: 64 hex digits}; under sealed custody (src/sealed/protocol.rs)
//   POST /v1/sealed/seed with no body, /v1/sealed/keys as seed id ‖ c0 length ‖ c0 ‖ rotation key,
//   /v1/sealed/match as seed id ‖ one c0 (the probe under the kiosk's key: 223 243 bytes),
//   /v1/sealed/claim as query id ‖ count ‖ count × (block ‖ slot ‖ commitment) and /v1/sealed/prove
//   as query id ‖ count ‖ count × (length ‖ range proof), each within the authority's limits; nothing else (no GET: an anchor history
//   is read on the authority's admin listener, never by a kiosk); and only the credential headers,
//   each of its format, besides the browser's own.

import { readFileSync, statSync } from 'node:fs';
import { dirname, join, resolve, sep } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const repo = resolve(dirname(fileURLToPath(import.meta.url)), '..');

// The group-element check is curve25519-dalek's decompression, from the bench package: an instance
// of its own (the query makes it a separate module), so that a test's own pkg-bench instance, of
// whichever build variant, is left alone.
const bench = await import(`${pathToFileURL(join(repo, 'pkg-bench/veilwatch.js')).href}?egress-check`);
bench.initSync({ module: readFileSync(join(repo, 'pkg-bench/veilwatch_bg.wasm')) });

/** Kiosk origins → their mounts ([prefix, folder]), registered by the harness's serveKiosk. */
const kioskOrigins = new Map();

export function registerKioskOrigin(origin, mounts) {
  kioskOrigins.set(origin, mounts.map(([prefix, folder]) => [prefix.replace(/\/+$/, ''), resolve(folder)]));
}

/** Paths the app requests whether or not the deployment provides them. */
const OPTIONAL_APP_FILES = new Set(['/deployment/overseer.pub', '/deployment/profile.vwp', '/deployment/issuer.pub', '/favicon.ico']);

/** The query strings the app puts on its own pages: the isolated kiosk's frame is told its portal's
 * origin (`<veilwatch-kiosk mode="isolated">`), nothing else. */
const APP_QUERIES = {
  '/api/isolated-kiosk.html': (params) => [...params.keys()].join() === 'portal'
    && /^https?:\/\/[A-Za-z0-9.-]+(:\d{1,5})?$/.test(params.get('portal')),
};

/** Headers the browser adds itself; anything else must be a credential header below. */
const BROWSER_HEADERS = new Set(['accept', 'accept-encoding', 'accept-language', 'cache-control', 'connection', 'content-length',
  'host', 'origin', 'pragma', 'referer', 'user-agent', 'access-control-request-method', 'access-control-request-headers',
  'upgrade-insecure-requests', 'if-none-match', 'if-modified-since', 'range', 'service-worker', 'purpose']);
const hexOf = (n) => new RegExp(`^[0-9a-f]{${n}}$`);
const CREDENTIAL_HEADERS = {
  'content-type': /^application\/(octet-stream|json)$/,
  'veilwatch-kiosk': hexOf(64),
  'veilwatch-deployment': hexOf(32),
  'veilwatch-timestamp': /^\d{1,12}$/,
  'veilwatch-nonce': hexOf(32),
  'veilwatch-signature': hexOf(128),
  'veilwatch-authority': /^https?:\/\/[A-Za-z0-9.:[\]-]+$/,
};

const AUTHORITY_PATHS = ['/v1/evaluate', '/v1/key-check', '/v1/anchor', '/v1/disclose',
  '/v1/sealed/seed', '/v1/sealed/keys', '/v1/sealed/match', '/v1/sealed/claim', '/v1/sealed/prove'];

/** Sealed custody's framing (src/sealed/protocol.rs): ids, counts and the ciphertext's size. */
const SEALED_ID_BYTES = 16;
const SEALED_C0_BYTES = 223_243;
const SEALED_MAX_CLAIMED = 64;
const SEALED_MAX_PROOF_BYTES = 1024;

function exactKeys(value, keys) {
  return value && typeof value === 'object' && !Array.isArray(value)
    && Object.keys(value).sort().join() === [...keys].sort().join();
}

function json(body) {
  try { return JSON.parse(body.toString('utf8')); } catch { return undefined; }
}

function appFile(mounts, path) {
  let decoded;
  try { decoded = decodeURIComponent(path); } catch { return false; }
  if (decoded === '/') decoded = '/index.html';
  const mount = mounts.filter(([prefix]) => decoded === prefix || decoded.startsWith(`${prefix}/`))
    .sort((a, b) => b[0].length - a[0].length)[0];
  if (!mount) return false;
  const file = resolve(mount[1], `.${decoded.slice(mount[0].length)}`);
  if (file !== mount[1] && !file.startsWith(mount[1] + sep)) return false;
  try { return statSync(file).isFile(); } catch { return false; }
}

function authorityBody(path, body) {
  switch (path) {
    case '/v1/evaluate':
      return body.length >= 32 && body.length <= 4096 * 32 && bench.areGroupElements(body)
        ? null : `a /v1/evaluate body must be blinded group elements; this one is ${body.length} bytes that are not`;
    case '/v1/key-check':
      return body.length === 32 && bench.areGroupElements(body) ? null : 'a /v1/key-check body must be one blinded group element';
    case '/v1/anchor': {
      const head = json(body);
      const ok = body.length <= 2048 && exactKeys(head, ['kioskKey', 'seq', 'head', 'time', 'signature'])
        && hexOf(64).test(head.kioskKey) && Number.isSafeInteger(head.seq) && hexOf(64).test(head.head)
        && (typeof head.time === 'string' || Number.isSafeInteger(head.time)) && String(head.time).length <= 40
        && hexOf(128).test(head.signature);
      return ok ? null : 'a /v1/anchor body must be exactly a signed audit head';
    }
    case '/v1/disclose': {
      const request = json(body);
      return exactKeys(request, ['handle', 'proof']) && hexOf(32).test(request.handle) && hexOf(64).test(request.proof)
        ? null : 'a /v1/disclose body must be exactly {handle, proof}';
    }
    case '/v1/sealed/seed':
      return body.length === 0 ? null : 'a /v1/sealed/seed request has no body';
    case '/v1/sealed/keys': {
      const c0 = body.length >= SEALED_ID_BYTES + 4 ? body.readUInt32LE(SEALED_ID_BYTES) : -1;
      return c0 === SEALED_C0_BYTES && body.length > SEALED_ID_BYTES + 4 + c0 && body.length <= 4 << 20
        ? null : 'a /v1/sealed/keys body must be seed id ‖ c0 length ‖ c0 ‖ rotation key';
    }
    case '/v1/sealed/match':
      return body.length === SEALED_ID_BYTES + SEALED_C0_BYTES ? null : 'a /v1/sealed/match body must be seed id ‖ one query c0';
    case '/v1/sealed/claim': {
      const count = body.length >= SEALED_ID_BYTES + 2 ? body.readUInt16LE(SEALED_ID_BYTES) : -1;
      return count >= 0 && count <= SEALED_MAX_CLAIMED && body.length === SEALED_ID_BYTES + 2 + count * 36
        ? null : 'a /v1/sealed/claim body must be query id ‖ count ‖ count × (block ‖ slot ‖ commitment)';
    }
    case '/v1/sealed/prove': {
      const count = body.length >= SEALED_ID_BYTES + 2 ? body.readUInt16LE(SEALED_ID_BYTES) : 0;
      let at = SEALED_ID_BYTES + 2;
      for (let k = 0; k < count && at + 2 <= body.length; k++) {
        const length = body.readUInt16LE(at);
        if (length === 0 || length > SEALED_MAX_PROOF_BYTES) return 'a /v1/sealed/prove proof has no length or is too long';
        at += 2 + length;
      }
      return count >= 1 && count <= SEALED_MAX_CLAIMED && at === body.length
        ? null : 'a /v1/sealed/prove body must be query id ‖ count ‖ count × (length ‖ range proof)';
    }
    default:
      return `${path} is not an authority path the kiosk uses`;
  }
}

/** Why `request` ({url, method, headers, body: Buffer|null}) breaks the allowlist, or null. */
export function egressViolation({ url, method, headers, body }) {
  const parsed = new URL(url);
  if (parsed.protocol === 'data:' || parsed.protocol === 'blob:') return null;
  const length = body?.length ?? 0;
  const lowered = Object.entries(headers).map(([name, value]) => [name.toLowerCase(), value]);
  const names = lowered.map(([name]) => name);
  const mounts = kioskOrigins.get(parsed.origin);
  if (mounts) {
    if (method !== 'GET' && method !== 'HEAD') return `${method} to the kiosk's own origin (only GETs of its files)`;
    if (length > 0) return 'a body on a GET';
    if (parsed.search && !APP_QUERIES[parsed.pathname]?.(parsed.searchParams)) return 'a query string on a request for an app file';
    const custom = names.filter((h) => h.startsWith('x-') || h.startsWith('veilwatch-'));
    if (custom.length) return `custom headers ${custom.join(', ')} on a request for an app file`;
    if (!appFile(mounts, parsed.pathname) && !OPTIONAL_APP_FILES.has(parsed.pathname)) return `${parsed.pathname} is not one of the app's own files`;
    return null;
  }
  const path = parsed.pathname.replace(/^.*?(\/v1\/)/, '$1');
  if (parsed.search) return 'a query string on an authority request';
  for (const [name, value] of lowered) {
    if (BROWSER_HEADERS.has(name) || name.startsWith('sec-')) continue;
    if (!CREDENTIAL_HEADERS[name]) return `header ${name} is not a credential header`;
    if (!CREDENTIAL_HEADERS[name].test(value)) return `header ${name} does not have its format`;
  }
  if (method === 'OPTIONS') {
    return length === 0 && AUTHORITY_PATHS.includes(path) ? null : 'a preflight of a path the kiosk does not use';
  }
  // The kiosk only POSTs to an authority (an anchor history is read on the admin listener, not by kiosks).
  if (method !== 'POST') return `${method} at an authority`;
  return authorityBody(path, body ?? Buffer.alloc(0));
}

/** Watches every request of `context` (pages, their Workers, service workers); violations go to `into`. */
export function watchContext(context, into) {
  context.on('request', (request) => {
    const entry = { url: request.url(), method: request.method(), headers: request.headers(), body: request.postDataBuffer() };
    let reason;
    try { reason = egressViolation(entry); } catch (error) { reason = `could not be checked: ${error.message}`; }
    if (reason) into.push(`${entry.method} ${entry.url.slice(0, 120)} (${entry.body?.length ?? 0} bytes): ${reason}`);
  });
}

/** Every violation a test file's browsers recorded and did not take out. Under `node --test` the
 * file fails at its very end if any is left (a hook on the root test, so that a test's own clean-up
 * — its servers, its browser — still runs first); elsewhere (the browser benchmark) `close()` throws. */
const unclaimed = [];
if (process.env.NODE_TEST_CONTEXT) {
  const { after } = await import('node:test');
  after(() => {
    if (unclaimed.length) throw new Error(`egress check (G1): the kiosk sent what it may not:\n  ${unclaimed.join('\n  ')}`);
  });
}

/** Makes `browser` watch every context it opens. `browser.egressViolations` lists what broke the
 * allowlist (a test that expects some takes them out); what is left when the browser closes fails
 * the test file (above). */
export function watchBrowser(browser) {
  const violations = [];
  const newContext = browser.newContext.bind(browser);
  const close = browser.close.bind(browser);
  browser.egressViolations = violations;
  browser.newContext = async (...args) => {
    const context = await newContext(...args);
    watchContext(context, violations);
    return context;
  };
  browser.newPage = async (...args) => {
    const context = await browser.newContext(...args);
    const page = await context.newPage();
    page.on('close', () => context.close().catch(() => {}));
    return page;
  };
  // A test that expects violations closes the browser with this: every request is then in, none
  // can still arrive (a Worker may send one between a page's close and the browser's), and they are
  // all the caller's.
  browser.closeTakingViolations = async () => {
    await close();
    return violations.splice(0);
  };
  browser.close = async (...args) => {
    await close(...args);
    const left = violations.splice(0);
    if (!left.length) return;
    console.error(`egress check (G1): the kiosk sent what it may not:\n  ${left.join('\n  ')}`);
    if (!process.env.NODE_TEST_CONTEXT) throw new Error(`egress check (G1): ${left.length} request(s) broke the allowlist`);
    unclaimed.push(...left);
  };
  return browser;
}
