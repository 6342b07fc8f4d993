// The kiosk's engine Worker. It owns the wasm module, the models and every biometric buffer:
// frames arrive as transferable ImageBitmaps, are written into the engine's frame buffer and
// wiped; the page receives boxes, track ids,
// counters and alerts (with the probe crop the reviewer must see), never an embedding or a code.
//
// Protocol (www/kiosk/engine-client.js is the other side): the page sends `{id, type, ...args}`;
// the Worker answers each with `{id, type: 'reply', ...}` or
// `{id, type: 'error', request, code, message}`. `code` is the engine's stable error code
// (`error.code`, e.g. WATCHLIST_EXPIRED), or one of the Worker's own: NOT_READY (a request came
// before the models were loaded), MODEL_DOWNLOAD_FAILED, INTERNAL (anything without a code).
// An error reply with `fatal: true` means the wasm instance trapped (a Rust panic or worse): it is
// not used again, every later request is refused with ENGINE_STOPPED, and the page starts a new
// Worker, which continues the stored audit log with a `restart` line.
//
// The audit log is durable: after every request, the lines the kiosk appended are stored in
// IndexedDB (kiosk/audit-store.js) before the reply goes out, and `start` continues the stored log.
//
// Under authority custody a frame's blind matches finish later: `processFrame` returns the
// blinded queries, the Worker POSTs each to the authority (`askAuthority`, with a deadline) and
// hands the answer to the engine; what that raises comes to the page unasked, as
// `{type: 'matched', alerts, counters, matchingError?, status}`. A frame reply carries
// `querying`, the number of queries it sent. Under sealed custody (DESIGN §3.4) a query is one step
// of a face (`/v1/sealed/seed`, `keys`, `match`, `claim`, `prove`: each query names its `path`), and
// the engine's answer to one step may bring the next (`queries`), which is sent the same way; the
// face's BFV key is made and kept in the engine's wasm memory and never reaches this script.
//
// Every authority call is signed with the kiosk key (kiosk/authority-client.js), which the Worker
// reads from IndexedDB itself (the page creates it). An alert under authority custody comes without
// its record: the engine hands out a disclosure request, the Worker POSTs it to /v1/disclose
// (signed with the nonce the engine chose, to which the request's proof is bound) and the outcome
// goes to the page unasked, as `{type: 'disclosed', alert, record?, material?, status}`.

// Two Workers (issue 19, item 2): where the page runs the detection Worker too (www/detect-worker.js,
// the default), `start` receives a MessagePort to it (`detectorPort`) and hands it the detector
// model. Frames then go from the page to the detection Worker, which detects them and passes each
// on through that port with its pixels in a transferred ArrayBuffer; here they are copied into the
// engine's frame buffer, the ArrayBuffer is zeroed and sent back, and the frame's reply goes to the
// page under the id the page gave it, exactly as a `frame` request's would. So the next frame is
// detected there while this one's faces are embedded here. Without the port, `frame` requests with
// a bitmap work as before (one Worker).
//
// Every import and URL is relative to this file, so the same Worker runs in the app (www/) and in
// the npm package (tools/build-package), wherever either is served from.
import init, { Kiosk, takePanicMessage } from './pkg/veilwatch.js';
import { engineWasmUrl } from './pkg/engine-wasm.js';
import { appendLines, storedLog } from './kiosk/audit-store.js';
import { signedFetch } from './kiosk/authority-client.js';
import { loadKioskKey } from './kiosk/kiosk-key.js';

/** The two model files, under the models folder (`modelsUrl`, by default ./models/ beside this
 * file), with the SHA-256s models/fetch pins: a model from anywhere else is refused. */
const MODEL_FILES = [
  { name: 'face_detection_yunet_2023mar_int8bq.onnx', sha256: '49f000ec501fef24739071fc7e68267d32209045b6822c0c72dce1da25726f10' },
  { name: 'face_recognition_sface_2021dec_int8bq.onnx', sha256: 'fb143eea07838aa532d1c95df5f69899974ea0140e1fba05e94204be13ed74ee' },
];

const hex = (bytes) => Array.from(new Uint8Array(bytes), (b) => b.toString(16).padStart(2, '0')).join('');

/** How long a blind match may wait for the authority (the request's deadline and the engine's). */
const AUTHORITY_TIMEOUT_MS = 5_000;
/** How long a step of a sealed face may wait (a key registration uploads 1.1 MB; the authority
 * computes a masked answer per face): below the engine's own least deadline for it (25 s,
 * src/kiosk/sealed_faces.rs MIN_STEP_DEADLINE_MS), so that this abort, and its failQuery, decides. */
const SEALED_TIMEOUT_MS = 20_000;

let kiosk = null;
/** How many audit lines are in IndexedDB. */
let storedLines = 0;
/** Why the wasm instance stopped, once it trapped. */
let stopped = null;
let canvas = null;
let context = null;
/** The loaded deployment's authority URL (authority or sealed custody), else null. */
let authorityUrl = null;
/** The kiosk key (`{pair, publicHex}`) once the page has created one. */
let kioskKeyPair = null;
/** The MessagePort to the detection Worker, when the page runs one. */
let detectionPort = null;

const failure = (code, message) => Object.assign(new Error(message), { code });

// Downloads both models, streamed, and tells the page how far it got (`{type: 'progress', loaded,
// total}`, bytes over both files; `total` is 0 while a server sends no Content-Length).
async function fetchModels(modelsUrl) {
  const urls = MODEL_FILES.map(({ name }) => new URL(name, modelsUrl));
  let responses;
  try {
    responses = await Promise.all(urls.map((url) => fetch(url)));
  } catch (error) {
    throw failure('MODEL_DOWNLOAD_FAILED', `could not download the face models from ${modelsUrl}: ${error.message}`);
  }
  responses.forEach((response, i) => {
    if (!response.ok) throw failure('MODEL_DOWNLOAD_FAILED', `could not download ${urls[i]} (HTTP ${response.status})`);
  });
  const sizes = responses.map((response) => Number(response.headers.get('content-length')) || 0);
  const total = sizes.includes(0) ? 0 : sizes.reduce((a, b) => a + b, 0);
  let loaded = 0;
  const read = async (response) => {
    const chunks = [];
    const reader = response.body.getReader();
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      chunks.push(value);
      loaded += value.length;
      self.postMessage({ type: 'progress', loaded, total });
    }
    const bytes = new Uint8Array(chunks.reduce((n, chunk) => n + chunk.length, 0));
    let at = 0;
    for (const chunk of chunks) {
      bytes.set(chunk, at);
      at += chunk.length;
    }
    return bytes;
  };
  const [detector, recognizer] = await Promise.all(responses.map(read));
  for (const [i, bytes] of [detector, recognizer].entries()) {
    const sha256 = hex(await crypto.subtle.digest('SHA-256', bytes));
    if (sha256 !== MODEL_FILES[i].sha256) {
      throw failure('MODEL_DOWNLOAD_FAILED', `${urls[i]} is not the pinned model (SHA-256 ${sha256}, expected ${MODEL_FILES[i].sha256})`);
    }
  }
  return { detector, recognizer };
}

// Writes the bitmap's pixels into the engine's own frame buffer (wasm memory, wiped by the engine
// after each frame), closes the bitmap, and calls `use(width, height)`. The canvas copy is wiped
// here. The buffer's view is asked for anew each frame: a view taken before the wasm memory grew
// would be detached.
function withFrame(bitmap, use) {
  const { width, height } = bitmap;
  if (!canvas || canvas.width !== width || canvas.height !== height) {
    canvas = new OffscreenCanvas(width, height);
    context = canvas.getContext('2d', { willReadFrequently: true });
  }
  context.drawImage(bitmap, 0, 0);
  bitmap.close();
  const image = context.getImageData(0, 0, width, height);
  try {
    kiosk.frameBuffer(width, height).set(image.data);
  } finally {
    image.data.fill(0);
    context.clearRect(0, 0, width, height);
  }
  return use(width, height);
}

// Copies a detected frame's pixels (an ArrayBuffer the detection Worker transferred) into the
// engine's frame buffer, zeroes them and sends the buffer back, then calls `use(width, height)`.
function withDetectedFrame({ pixels, width, height }, use) {
  try {
    kiosk.frameBuffer(width, height).set(new Uint8Array(pixels));
  } finally {
    returnWiped(pixels);
  }
  return use(width, height);
}

// Zeroes a detected frame's pixels and sends the buffer back to the detection Worker.
function returnWiped(pixels) {
  new Uint8Array(pixels).fill(0);
  detectionPort?.postMessage({ type: 'wiped', pixels }, [pixels]);
}

// Hands the detector model to the detection Worker and resolves once it is ready there.
function startDetection(port, detector) {
  return new Promise((resolve, reject) => {
    port.onmessage = ({ data }) => {
      if (data.type === 'started') {
        port.onmessage = ({ data: frame }) => {
          if (frame.type === 'frame') handle(frame);
        };
        resolve();
      } else if (data.type === 'failed') {
        reject(failure(data.code, `the detection Worker could not start: ${data.message}`));
      }
    };
    port.postMessage({ type: 'start', detector }, [detector.buffer]);
  });
}

// The kiosk key from IndexedDB (read again until the operator has created one).
async function kioskKey() {
  kioskKeyPair ??= await loadKioskKey();
  return kioskKeyPair;
}

// One signed round trip to the authority (`path`: /v1/evaluate, /v1/key-check, /v1/disclose,
// /v1/sealed/…) for
// the deployment the engine names; resolves with the answer's bytes. Refused here, sending nothing,
// without a kiosk key; a refusal's message carries the authority's reason and Retry-After.
async function callAuthority(url, path, body, { nonceHex, contentType, deploymentHex } = {}) {
  const response = await signedFetch(url, {
    path,
    body,
    nonceHex,
    contentType,
    deploymentHex: deploymentHex ?? kiosk?.deploymentId(),
    kioskKey: await kioskKey(),
    timeoutMs: path.startsWith('/v1/sealed/') ? SEALED_TIMEOUT_MS : AUTHORITY_TIMEOUT_MS,
  });
  return new Uint8Array(await response.arrayBuffer());
}

// Fetches the reviewer material of each new alert under authority custody and finishes its
// disclosure in the engine; the outcome goes to the page unasked. The material's bytes are wiped
// once the engine has them.
function discloseAll(disclosures = []) {
  for (const request of disclosures) disclose(request);
}

async function disclose({ alert, nonce, body }) {
  let outcome;
  let sealed;
  try {
    try {
      sealed = await callAuthority(authorityUrl, '/v1/disclose', body, { nonceHex: nonce, contentType: 'application/json' });
    } catch (error) {
      if (!kiosk) return;
      outcome = kiosk.failDisclosure(alert, error.message);
    }
    if (!kiosk) return;
    outcome ??= kiosk.completeDisclosure(alert, sealed);
  } catch (error) {
    if (error instanceof WebAssembly.RuntimeError) return void stop(error);
    if (error?.code === 'DISCLOSURE_UNKNOWN') return; // reviewed meanwhile
    outcome = { alert, material: `material not available: ${error.message}` };
  } finally {
    sealed?.fill(0);
    body.fill(0);
  }
  self.postMessage({ ...outcome, type: 'disclosed', status: kiosk.status() });
}

// Sends a query (to its `path`) and hands the answer to the engine; the outcome goes to the page
// unasked, and the requests it brings (sealed custody's next step) are sent in turn. A query the
// engine no longer holds (its face left, its time ran out) is dropped quietly. The answer's bytes
// are wiped once the engine has them.
async function askAuthority({ id, path, deployment, body }) {
  let outcome;
  let answer;
  try {
    try {
      // The deployment the query was made for, whatever the engine is loading meanwhile.
      answer = await callAuthority(authorityUrl, path, body, { deploymentHex: deployment });
    } catch (error) {
      if (!kiosk) return;
      outcome = kiosk.failQuery(id, error.message);
    }
    if (!kiosk) return; // the engine stopped while the authority answered
    outcome ??= kiosk.completeQuery(id, answer);
    discloseAll(outcome.disclosures);
    for (const query of outcome.queries ?? []) askAuthority(query);
  } catch (error) {
    // A trap stops the engine; the page's next request learns it (ENGINE_STOPPED, fatal) and restarts it.
    if (error instanceof WebAssembly.RuntimeError) return void stop(error);
    if (error?.code === 'QUERY_UNKNOWN') return;
    outcome = { alerts: [], matchingError: error.message };
  } finally {
    answer?.fill(0);
    body.fill(0);
  }
  // The alert and its counts are in the audit log; they are stored before the page hears of them.
  const auditStoreError = await storeNewAuditLines().catch((error) => {
    if (error instanceof WebAssembly.RuntimeError) stop(error);
    return `the audit log could not be stored on this device: ${error?.message ?? error}`;
  });
  if (!kiosk) return;
  const transfer = [...new Set(outcome.alerts.map((a) => a.probe.buffer))];
  const { disclosures, queries, ...shown } = outcome;
  self.postMessage({ ...shown, ...(auditStoreError && { auditStoreError }), type: 'matched', status: kiosk.status() }, transfer);
}

// Each handler returns the reply's fields, or `[fields, transferables]`.
const handlers = {
  // `kioskKey`: the kiosk key's public hex, if it has one; `restartReason`: why the previous
  // Worker stopped, if it did; `overseerPublicKey`: the overseer's key, if the kiosk is configured
  // with one (then every profile must be co-signed by it); `modelsUrl`: the folder the two models
  // are downloaded from (a URL ending in /; default: models/ beside this file).
  // `detectorPort`: the MessagePort to the detection Worker, if the page runs one.
  async start({ kioskKey, restartReason, overseerPublicKey, modelsUrl, detectorPort }) {
    await init({ module_or_path: engineWasmUrl(new URL('./pkg/', import.meta.url)) });
    const { detector, recognizer } = await fetchModels(new URL(modelsUrl ?? './models/', import.meta.url));
    const created = Kiosk.create({ detector, recognizer, ...(overseerPublicKey ? { overseerPublicKey } : {}) });
    const stored = await storedLog();
    try {
      created.restoreAudit(stored.text, kioskKey, restartReason);
      if (detectorPort) await startDetection(detectorPort, detector);
    } catch (error) {
      created.free();
      throw error;
    }
    detectionPort = detectorPort ?? null;
    created.setAuthorityTimeout(AUTHORITY_TIMEOUT_MS);
    kiosk = created;
    storedLines = stored.count;
    return { status: kiosk.status(), auditLines: kiosk.auditHead()?.seq ?? 0 };
  },
  // A frame from the page (`bitmap`), or one the detection Worker detected (`pixels`, `detection`).
  frame(args) {
    const { bitmap, t, pixels, detection, detectMs = 0 } = args;
    const { width, height } = bitmap ?? args;
    const t0 = performance.now();
    const { queries = [], disclosures, ...result } = pixels
      ? withDetectedFrame(args, (w, h) => kiosk.processDetectedFrame(w, h, detection, t))
      : withFrame(bitmap, (w, h) => kiosk.processFrame(w, h, t));
    for (const query of queries) askAuthority(query);
    discloseAll(disclosures);
    // Each probe crop is moved to the page, not copied, so no second copy lingers here.
    const transfer = [...new Set(result.alerts.map((a) => a.probe.buffer))];
    const ms = performance.now() - t0 + detectMs;
    return [{ ...result, querying: queries.length, ms, width, height, status: kiosk.status() }, transfer];
  },
  enrol({ bitmap, label }) {
    const count = withFrame(bitmap, (w, h) => kiosk.enrollFromFrame(w, h, label));
    return { count, label, status: kiosk.status(), chart: kiosk.operatingPointChart() };
  },
  // Under authority custody the engine verifies what it can offline and returns the key check's
  // blinded element; the authority's answer (same round trip and deadline as a match) finishes the
  // load. Until then the previous deployment, if any, stays as it was.
  async load({ deployment }) {
    const keyCheck = kiosk.loadWatchlist(deployment);
    if (keyCheck) {
      const url = deployment.custody.url;
      try {
        let answer;
        try {
          answer = await callAuthority(url, '/v1/key-check', keyCheck);
        } catch (error) {
          if (!kiosk) throw error;
          kiosk.failKeyCheck(error.message); // throws AUTHORITY_UNAVAILABLE with the reason
        }
        if (!kiosk) throw failure('ENGINE_STOPPED', 'the face engine stopped while the authority checked the watchlist\'s key');
        kiosk.completeKeyCheck(answer);
      } finally {
        keyCheck.fill(0);
      }
    }
    authorityUrl = ['authority', 'sealed'].includes(deployment.custody?.kind) ? deployment.custody.url : null;
    return { status: kiosk.status(), chart: kiosk.operatingPointChart(), deploymentId: kiosk.deploymentId() };
  },
  review({ alert, decision, reviewer }) {
    kiosk.reviewAlert(alert, decision, reviewer);
    return { alert, decision, status: kiosk.status() };
  },
  audit() {
    return { text: kiosk.auditLog() };
  },
  head() {
    return { head: kiosk.auditHead() };
  },
  bindKey({ kioskKey }) {
    kiosk.bindKioskKey(kioskKey);
    return { head: kiosk.auditHead() };
  },
  stop() {
    kiosk?.stop();
    detectionPort?.postMessage({ type: 'reset' });
    return { status: kiosk?.status() };
  },
};

// Stores the audit lines appended since the last call; resolves once IndexedDB committed them,
// with null, or with why they could not be stored (they stay in memory and are tried again with the
// next request; the reply still goes out, so no alert is lost).
async function storeNewAuditLines() {
  const seq = kiosk?.auditHead()?.seq ?? 0;
  if (seq <= storedLines) return null;
  const lines = kiosk.auditLinesAfter(storedLines);
  try {
    await appendLines(storedLines + 1, lines);
  } catch (error) {
    return `the audit log could not be stored on this device: ${error?.message ?? error}`;
  }
  storedLines = Math.max(storedLines, seq);
  return null;
}

// The wasm instance trapped: record why (the panic's message if a panic did it) and never call it
// again.
function stop(error) {
  let panic;
  try {
    panic = takePanicMessage();
  } catch {
    // The instance may be too broken to answer; the trap's own message stays.
  }
  kiosk = null;
  stopped = panic ? `${panic} (${error.message})` : error.message;
  return failure('INTERNAL', `the face engine stopped on an internal error: ${stopped}`);
}

// One request, from the page or (a detected frame) from the detection Worker: the reply goes to
// the page either way.
async function handle({ id, type, ...args }) {
  try {
    if (stopped) throw failure('ENGINE_STOPPED', `the face engine stopped earlier (${stopped}) and is being restarted`);
    if (!kiosk && type !== 'start' && type !== 'stop') throw failure('NOT_READY', 'the face models are not loaded yet');
    let reply;
    let refusal = null;
    try {
      reply = await handlers[type](args);
    } catch (error) {
      refusal = error;
    }
    if (refusal instanceof WebAssembly.RuntimeError) throw stop(refusal);
    // A refused request may have logged too (e.g. matching stopped when the window closed).
    let auditStoreError;
    try {
      auditStoreError = await storeNewAuditLines();
    } catch (error) {
      throw error instanceof WebAssembly.RuntimeError ? stop(error) : error;
    }
    if (refusal) throw refusal;
    const [fields, transfer] = Array.isArray(reply) ? reply : [reply, []];
    self.postMessage({ ...fields, ...(auditStoreError && { auditStoreError }), id, type: 'reply' }, transfer);
  } catch (error) {
    args.bitmap?.close?.();
    // A detected frame refused before its pixels reached the engine: zeroed and sent back all the same.
    if (args.pixels?.byteLength) returnWiped(args.pixels);
    self.postMessage({
      id,
      type: 'error',
      request: type,
      code: typeof error?.code === 'string' ? error.code : 'INTERNAL',
      message: error instanceof Error ? error.message : String(error),
      fatal: stopped !== null,
    });
  }
}

self.onmessage = ({ data }) => handle(data);
