// The kiosk's engine Worker. It owns the wasm module, the models and every biometric buffer:
// frames arrive as transferable ImageBitmaps and are wiped here; the page receives boxes, track ids,
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

import init, { Kiosk, takePanicMessage } from '/pkg/veilwatch.js';
import { engineWasmUrl } from '/pkg/engine-wasm.js';
import { appendLines, storedLog } from '/kiosk/audit-store.js';

const MODELS = {
  detector: '/models/face_detection_yunet_2023mar_int8bq.onnx',
  recognizer: '/models/face_recognition_sface_2021dec_int8bq.onnx',
};

let kiosk = null;
/** How many audit lines are in IndexedDB. */
let storedLines = 0;
/** Why the wasm instance stopped, once it trapped. */
let stopped = null;
let canvas = null;
let context = null;

const failure = (code, message) => Object.assign(new Error(message), { code });

async function fetchBytes(url) {
  const response = await fetch(url);
  if (!response.ok) throw failure('MODEL_DOWNLOAD_FAILED', `could not download ${url} (HTTP ${response.status})`);
  return new Uint8Array(await response.arrayBuffer());
}

// Copies the bitmap's pixels out, closes it, and hands the pixels to `use`; they are wiped after.
function withPixels(bitmap, use) {
  const { width, height } = bitmap;
  if (!canvas || canvas.width !== width || canvas.height !== height) {
    canvas = new OffscreenCanvas(width, height);
    context = canvas.getContext('2d', { willReadFrequently: true });
  }
  context.drawImage(bitmap, 0, 0);
  bitmap.close();
  const image = context.getImageData(0, 0, width, height);
  try {
    return use(image.data, width, height);
  } finally {
    image.data.fill(0);
    context.clearRect(0, 0, width, height);
  }
}

// Each handler returns the reply's fields, or `[fields, transferables]`.
const handlers = {
  // `kioskKey`: the kiosk key's public hex, if it has one; `restartReason`: why the previous
  // Worker stopped, if it did; `overseerPublicKey`: the overseer's key, if the kiosk is configured
  // with one (then every profile must be co-signed by it).
  async start({ kioskKey, restartReason, overseerPublicKey }) {
    await init({ module_or_path: engineWasmUrl(new URL('/pkg/', self.location.origin)) });
    const [detector, recognizer] = await Promise.all([fetchBytes(MODELS.detector), fetchBytes(MODELS.recognizer)]);
    const created = Kiosk.create({ detector, recognizer, ...(overseerPublicKey ? { overseerPublicKey } : {}) });
    const stored = await storedLog();
    try {
      created.restoreAudit(stored.text, kioskKey, restartReason);
    } catch (error) {
      created.free();
      throw error;
    }
    kiosk = created;
    storedLines = stored.count;
    return { status: kiosk.status(), auditLines: kiosk.auditHead()?.seq ?? 0 };
  },
  frame({ bitmap, t }) {
    const { width, height } = bitmap;
    const t0 = performance.now();
    const result = withPixels(bitmap, (rgba, w, h) => kiosk.processFrame(rgba, w, h, t));
    // Each probe crop is moved to the page, not copied, so no second copy lingers here.
    const transfer = [...new Set(result.alerts.map((a) => a.probe.buffer))];
    return [{ ...result, ms: performance.now() - t0, width, height, status: kiosk.status() }, transfer];
  },
  enrol({ bitmap, label }) {
    const count = withPixels(bitmap, (rgba, w, h) => kiosk.enrollFromFrame(rgba, w, h, label));
    return { count, label, status: kiosk.status(), chart: kiosk.operatingPointChart() };
  },
  load({ deployment }) {
    kiosk.loadWatchlist(deployment);
    return { status: kiosk.status(), chart: kiosk.operatingPointChart() };
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
    return { status: kiosk?.status() };
  },
};

// Stores the audit lines appended since the last call; resolves once IndexedDB committed them,
// with null, or with why they could not be stored (they stay in memory and are tried again with the
// next request; the reply still goes out, so no alert is lost).
async function storeNewAuditLines() {
  const seq = kiosk?.auditHead()?.seq ?? 0;
  if (seq <= storedLines) return null;
  const lines = kiosk.auditLinesAfter(BigInt(storedLines));
  try {
    await appendLines(storedLines + 1, lines);
  } catch (error) {
    return `the audit log could not be stored on this device: ${error?.message ?? error}`;
  }
  storedLines = seq;
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

self.onmessage = async ({ data: { id, type, ...args } }) => {
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
    self.postMessage({
      id,
      type: 'error',
      request: type,
      code: typeof error?.code === 'string' ? error.code : 'INTERNAL',
      message: error instanceof Error ? error.message : String(error),
      fatal: stopped !== null,
    });
  }
};
