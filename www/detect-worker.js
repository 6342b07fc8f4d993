// The kiosk's detection Worker (issue 19, item 2). The kiosk runs two Workers on a laptop's two
// cores: this one detects frame n + 1 while the engine Worker (www/kiosk-worker.js) aligns, embeds,
// tracks and matches frame n's faces. It holds the detector model only, in its own wasm instance
// (`FaceDetector`: the kiosk's detection schedule, reduced input and the full one when needed).
//
// Protocol. From the page (www/kiosk/engine-client.js): `{type: 'connect', port}` once, the
// MessagePort to the engine Worker; then `{id, type: 'frame', bitmap, t}` per frame (the bitmap
// transferred). To the engine Worker, on the port: `{id, type: 'frame', t, width, height, detection,
// pixels, detectMs}`, the frame's RGBA pixels in an ArrayBuffer that is *transferred* (moved, not
// copied: nothing of it stays here); the engine Worker copies them into its own wasm frame buffer,
// zeroes the ArrayBuffer and sends it back (`{type: 'wiped', pixels}`), so that this side can see
// that the pixels it handed over are gone. The engine Worker replies to the page, under the frame's
// id. From the engine Worker: `{type: 'start', detector}` (the model's bytes, which it downloaded
// and checked against the pinned SHA-256), answered with `{type: 'started'}` or `{type: 'failed',
// code, message}`; `{type: 'reset'}` when the camera stopped.
//
// A frame this Worker cannot detect is answered to the page directly, as the engine Worker answers
// a refused request: `{id, type: 'error', request: 'frame', code, message, fatal}`; `fatal` means the
// wasm instance trapped, and the page starts both Workers anew.
//
// Every buffer a frame passes through here is wiped: the canvas is cleared, the wasm frame buffer is
// wiped by `FaceDetector.detect`, the detector's activations by the engine's zero-on-free allocator
// and tract scratch wipe (G2), and the ImageData's buffer leaves by transfer (or is zeroed if the
// detection failed).

import init, { FaceDetector, takePanicMessage } from './pkg/veilwatch.js';
import { engineWasmUrl } from './pkg/engine-wasm.js';

let detector = null;
/** The MessagePort to the engine Worker. */
let engine = null;
/** Why the wasm instance stopped, once it trapped. */
let stopped = null;
let canvas = null;
let context = null;

const failure = (code, message) => Object.assign(new Error(message), { code });

// The wasm instance trapped: record why and never call it again.
function stop(error) {
  let panic;
  try {
    panic = takePanicMessage();
  } catch {
    // The instance may be too broken to answer; the trap's own message stays.
  }
  detector = null;
  stopped = panic ? `${panic} (${error.message})` : error.message;
  return failure('INTERNAL', `the face detector stopped on an internal error: ${stopped}`);
}

async function start(bytes) {
  try {
    await init({ module_or_path: engineWasmUrl(new URL('./pkg/', import.meta.url)) });
    detector?.free();
    detector = FaceDetector.create(bytes);
    engine.postMessage({ type: 'started' });
  } catch (error) {
    engine.postMessage({ type: 'failed', code: error?.code ?? 'INTERNAL', message: error?.message ?? String(error) });
  } finally {
    bytes.fill(0);
  }
}

function fromEngine({ data }) {
  if (data.type === 'start') return void start(data.detector);
  if (data.type === 'reset') return void detector?.reset();
  // 'wiped': the pixels of a frame handed over, back and zeroed; nothing to keep.
}

function detectFrame({ id, bitmap, t }) {
  const { width, height } = bitmap;
  let image = null;
  try {
    if (stopped) throw failure('ENGINE_STOPPED', `the face detector stopped earlier (${stopped}) and is being restarted`);
    if (!detector || !engine) throw failure('NOT_READY', 'the face models are not loaded yet');
    const t0 = performance.now();
    if (!canvas || canvas.width !== width || canvas.height !== height) {
      canvas = new OffscreenCanvas(width, height);
      context = canvas.getContext('2d', { willReadFrequently: true });
    }
    context.drawImage(bitmap, 0, 0);
    bitmap.close();
    image = context.getImageData(0, 0, width, height);
    context.clearRect(0, 0, width, height);
    let detection;
    try {
      detector.frameBuffer(width, height).set(image.data);
      detection = detector.detect(width, height);
    } catch (error) {
      throw error instanceof WebAssembly.RuntimeError ? stop(error) : error;
    }
    const pixels = image.data.buffer;
    image = null;
    engine.postMessage({ id, type: 'frame', t, width, height, detection, pixels, detectMs: performance.now() - t0 }, [pixels]);
  } catch (error) {
    bitmap.close();
    image?.data.fill(0);
    self.postMessage({
      id,
      type: 'error',
      request: 'frame',
      code: typeof error?.code === 'string' ? error.code : 'INTERNAL',
      message: error instanceof Error ? error.message : String(error),
      fatal: stopped !== null,
    });
  }
}

self.onmessage = ({ data }) => {
  if (data.type === 'connect') {
    engine = data.port;
    engine.onmessage = fromEngine;
    return;
  }
  if (data.type === 'frame') detectFrame(data);
};
