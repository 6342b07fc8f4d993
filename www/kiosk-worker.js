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
//
// Under authority custody a frame's blind matches finish later: `processFrame` returns the
// blinded queries, the Worker POSTs each to the authority (`askAuthority`, with a deadline) and
// hands the answer to the engine; what that raises comes to the page unasked, as
// `{type: 'matched', alerts, counters, matchingError?, status}`. A frame reply carries
// `querying`, the number of queries it sent.

import init, { Kiosk } from '/pkg/veilwatch.js';
import { engineWasmUrl } from '/pkg/engine-wasm.js';

const MODELS = {
  detector: '/models/face_detection_yunet_2023mar_int8bq.onnx',
  recognizer: '/models/face_recognition_sface_2021dec_int8bq.onnx',
};

/** How long a blind match may wait for the authority (the request's deadline and the engine's). */
const AUTHORITY_TIMEOUT_MS = 5_000;

let kiosk = null;
let canvas = null;
let context = null;
/** The loaded deployment's authority URL (authority custody), else null. */
let authorityUrl = null;

const failure = (code, message) => Object.assign(new Error(message), { code });

async function fetchBytes(url) {
  const response = await fetch(url);
  if (!response.ok) throw failure('MODEL_DOWNLOAD_FAILED', `could not download ${url} (HTTP ${response.status})`);
  return new Uint8Array(await response.arrayBuffer());
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

// One blind match's round trip: POSTs the blinded elements to the authority's /v1/evaluate (the
// body and content type its wire format defines) and resolves with its answer's bytes. The one
// place that talks to the authority, so request signing (headers) goes here.
async function evaluateAtAuthority(url, body) {
  const endpoint = `${url.replace(/\/+$/, '')}/v1/evaluate`;
  let response;
  try {
    response = await fetch(endpoint, {
      method: 'POST',
      headers: { 'Content-Type': 'application/octet-stream' },
      body,
      signal: AbortSignal.timeout(AUTHORITY_TIMEOUT_MS),
    });
  } catch (error) {
    if (error?.name === 'TimeoutError') throw new Error(`the authority at ${url} did not answer within ${AUTHORITY_TIMEOUT_MS / 1000} s`);
    throw new Error(`cannot reach the authority at ${url}: the request failed (down, or blocked by the page's security policy)`);
  }
  if (!response.ok) throw new Error(`the authority at ${url} answered HTTP ${response.status}`);
  return new Uint8Array(await response.arrayBuffer());
}

// Sends a frame's query and finishes its match; the outcome goes to the page unasked. A query the
// engine no longer holds (its face left, its time ran out) is dropped quietly.
async function askAuthority({ id, body }) {
  let outcome;
  try {
    let answer;
    try {
      answer = await evaluateAtAuthority(authorityUrl, body);
    } catch (error) {
      outcome = kiosk.failQuery(id, error.message);
    }
    outcome ??= kiosk.completeQuery(id, answer);
  } catch (error) {
    if (error?.code === 'QUERY_UNKNOWN') return;
    outcome = { alerts: [], matchingError: error.message };
  } finally {
    body.fill(0);
  }
  const transfer = [...new Set(outcome.alerts.map((a) => a.probe.buffer))];
  self.postMessage({ ...outcome, type: 'matched', status: kiosk.status() }, transfer);
}

// Each handler returns the reply's fields, or `[fields, transferables]`.
const handlers = {
  async start() {
    await init({ module_or_path: engineWasmUrl(new URL('/pkg/', self.location.origin)) });
    const [detector, recognizer] = await Promise.all([fetchBytes(MODELS.detector), fetchBytes(MODELS.recognizer)]);
    kiosk = Kiosk.create({ detector, recognizer });
    kiosk.setAuthorityTimeout(AUTHORITY_TIMEOUT_MS);
    return { status: kiosk.status() };
  },
  frame({ bitmap, t }) {
    const { width, height } = bitmap;
    const t0 = performance.now();
    const { queries = [], ...result } = withFrame(bitmap, (w, h) => kiosk.processFrame(w, h, t));
    for (const query of queries) askAuthority(query);
    // Each probe crop is moved to the page, not copied, so no second copy lingers here.
    const transfer = [...new Set(result.alerts.map((a) => a.probe.buffer))];
    return [{ ...result, querying: queries.length, ms: performance.now() - t0, width, height, status: kiosk.status() }, transfer];
  },
  enrol({ bitmap, label }) {
    const count = withFrame(bitmap, (w, h) => kiosk.enrollFromFrame(w, h, label));
    return { count, label, status: kiosk.status(), chart: kiosk.operatingPointChart() };
  },
  load({ deployment }) {
    kiosk.loadWatchlist(deployment);
    authorityUrl = deployment.custody?.kind === 'authority' ? deployment.custody.url : null;
    return { status: kiosk.status(), chart: kiosk.operatingPointChart() };
  },
  review({ alert, decision, reviewer }) {
    kiosk.reviewAlert(alert, decision, reviewer);
    return { alert, decision, status: kiosk.status() };
  },
  audit() {
    return { text: kiosk.auditLog() };
  },
  stop() {
    kiosk?.stop();
    return { status: kiosk?.status() };
  },
};

self.onmessage = async ({ data: { id, type, ...args } }) => {
  try {
    if (!kiosk && type !== 'start' && type !== 'stop') throw failure('NOT_READY', 'the face models are not loaded yet');
    const reply = await handlers[type](args);
    const [fields, transfer] = Array.isArray(reply) ? reply : [reply, []];
    self.postMessage({ ...fields, id, type: 'reply' }, transfer);
  } catch (error) {
    args.bitmap?.close?.();
    self.postMessage({
      id,
      type: 'error',
      request: type,
      code: typeof error?.code === 'string' ? error.code : 'INTERNAL',
      message: error instanceof Error ? error.message : String(error),
    });
  }
};
