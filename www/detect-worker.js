// The engine's Worker: it owns the wasm module and the models, receives camera frames as
// transferable ImageBitmaps, detects faces, wipes the pixels and returns only boxes and timings.

import init, { Engine } from '/pkg/veilwatch.js';

const MODELS = {
  detector: '/models/face_detection_yunet_2023mar_int8bq.onnx',
  recognizer: '/models/face_recognition_sface_2021dec_int8bq.onnx',
};

let engine = null;
let canvas = null;
let context = null;

async function fetchBytes(url) {
  const response = await fetch(url);
  if (!response.ok) throw new Error(`could not download ${url} (HTTP ${response.status})`);
  return new Uint8Array(await response.arrayBuffer());
}

async function start() {
  await init();
  const [detector, recognizer] = await Promise.all([fetchBytes(MODELS.detector), fetchBytes(MODELS.recognizer)]);
  engine = new Engine(detector, recognizer);
}

function detect(bitmap) {
  const { width, height } = bitmap;
  if (!canvas || canvas.width !== width || canvas.height !== height) {
    canvas = new OffscreenCanvas(width, height);
    context = canvas.getContext('2d', { willReadFrequently: true });
  }
  context.drawImage(bitmap, 0, 0);
  bitmap.close();
  const image = context.getImageData(0, 0, width, height);
  const t0 = performance.now();
  try {
    return { faces: engine.detect(image.data, width, height), ms: performance.now() - t0, width, height };
  } finally {
    // The frame is gone once its faces are known: wipe our copy and the canvas.
    image.data.fill(0);
    context.clearRect(0, 0, width, height);
  }
}

self.onmessage = async ({ data }) => {
  try {
    if (data.type === 'start') {
      await start();
      self.postMessage({ type: 'ready' });
    } else if (data.type === 'frame') {
      if (!engine) throw new Error('the face models are not loaded yet');
      self.postMessage({ type: 'faces', ...detect(data.bitmap) });
    }
  } catch (error) {
    data.bitmap?.close?.();
    self.postMessage({ type: 'error', message: error instanceof Error ? error.message : String(error) });
  }
};
