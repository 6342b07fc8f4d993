// The kiosk's engine Worker. It owns the wasm module, the models and every biometric buffer:
// frames arrive as transferable ImageBitmaps and are wiped here; the page receives boxes, track ids,
// counters and alerts (with the probe crop the reviewer must see), never an embedding or a code.

import init, { Kiosk } from '/pkg/veilwatch.js';
import { engineWasmUrl } from '/pkg/engine-wasm.js';

const MODELS = {
  detector: '/models/face_detection_yunet_2023mar_int8bq.onnx',
  recognizer: '/models/face_recognition_sface_2021dec_int8bq.onnx',
};

let kiosk = null;
let canvas = null;
let context = null;

async function fetchBytes(url) {
  const response = await fetch(url);
  if (!response.ok) throw new Error(`could not download ${url} (HTTP ${response.status})`);
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

const handlers = {
  async start() {
    await init({ module_or_path: engineWasmUrl(new URL('/pkg/', self.location.origin)) });
    const [detector, recognizer] = await Promise.all([fetchBytes(MODELS.detector), fetchBytes(MODELS.recognizer)]);
    kiosk = Kiosk.create({ detector, recognizer });
    return { type: 'ready', status: kiosk.status() };
  },
  frame({ bitmap, t }) {
    const { width, height } = bitmap;
    const t0 = performance.now();
    const result = withPixels(bitmap, (rgba, w, h) => kiosk.processFrame(rgba, w, h, t));
    const transfer = result.alerts.map((a) => a.probe.buffer);
    return [{ type: 'result', ...result, ms: performance.now() - t0, width, height, status: kiosk.status() }, transfer];
  },
  enrol({ bitmap, label }) {
    const count = withPixels(bitmap, (rgba, w, h) => kiosk.enrollFromFrame(rgba, w, h, label));
    return { type: 'enrolled', count, label, status: kiosk.status() };
  },
  load({ watchlist, issuer, prfKey, authority, profile }) {
    if (authority) kiosk.loadWatchlistWithAuthority(new Uint8Array(watchlist), issuer, authority, profile ?? undefined);
    else kiosk.loadWatchlist(new Uint8Array(watchlist), issuer, prfKey, profile ?? undefined);
    return { type: 'loaded', status: kiosk.status() };
  },
  review({ id, decision, reviewer }) {
    kiosk.reviewAlert(id, decision, reviewer);
    return { type: 'reviewed', id, decision, status: kiosk.status() };
  },
  audit() {
    return { type: 'audit', text: kiosk.auditLog() };
  },
  stop() {
    kiosk?.stop();
    return { type: 'stopped', status: kiosk?.status() };
  },
};

self.onmessage = async ({ data }) => {
  try {
    if (!kiosk && data.type !== 'start') throw new Error('the face models are not loaded yet');
    const reply = await handlers[data.type](data);
    const [message, transfer] = Array.isArray(reply) ? reply : [reply, []];
    self.postMessage(message, transfer);
  } catch (error) {
    data.bitmap?.close?.();
    self.postMessage({ type: 'error', request: data.type, message: error instanceof Error ? error.message : String(error) });
  }
};
