// The typed async API a web portal imports (`import { createKiosk } from 'veilwatch'`): one call
// starts the engine Worker (www/kiosk-worker.js, the same Worker and the same signed-fetch, audit
// and key code the kiosk app runs), downloads the models with progress, and resolves with a kiosk
// that takes frames and reports what it saw as events. Nothing biometric reaches this side but the
// boxes, track ids, counters and an alert's probe crop for the reviewer: no embedding, code or score
// (the Worker never returns one, and the production wasm package has no call that could).
//
// Every URL is relative to `baseUrl`, the folder the package is served from (default: the folder
// this file's parent is in, which is right when the files are served as they are; a bundler that
// moves this code elsewhere needs `baseUrl` set to where the package's files are served).

import { cameraErrorCode, cameraProblem, closeCamera, hasFrame, openCamera, pumpFrames } from '../kiosk/camera.js';
import { EngineClient, EngineError } from '../kiosk/engine-client.js';
import { createKioskKey, loadKioskKey } from '../kiosk/kiosk-key.js';

/** A request the kiosk refused or could not carry out; `code` is stable (an ErrorCode, or an
 * ApiErrorCode: see api/create-kiosk.d.ts); `errorMessage(code, lang)` says it in words. */
export { EngineError as VeilwatchError };

export { errorMessage } from './error-messages.js';

/** Whether `error` is a VeilwatchError (and so carries a stable `code`). */
export const isVeilwatchError = (error) => error instanceof EngineError;

const DECISIONS = new Set(['confirm', 'reject', 'unsure']);

const refusal = (request, code, message) => new EngineError({ request, code, message });

/** The package's folder, when this file is served from `api/` inside it. */
const defaultBaseUrl = () => new URL('../', import.meta.url);

/** A folder URL (ending in /), resolved against the document. */
function folderUrl(url) {
  const resolved = new URL(url, globalThis.location?.href);
  if (!resolved.pathname.endsWith('/')) resolved.pathname += '/';
  return resolved;
}

/**
 * A running kiosk (createKiosk resolves with it once the models are loaded; their download
 * progress goes to its `onProgress`). Events (each a CustomEvent whose `detail` is given):
 * `faces` the FrameResult of each processed frame; `alert` one AlertView per new alert (also those
 * that finish later under authority custody); `disclosure` `{alert, record?, material?}`;
 * `status` the KioskStatus whenever it changes; `error` a VeilwatchError from the camera loop or a
 * late authority answer.
 */
export class VeilwatchKiosk extends EventTarget {
  #engine;
  #camera = null;
  #status = null;

  /** @param {EngineClient} engine a started engine */
  constructor(engine, status) {
    super();
    this.#engine = engine;
    this.#status = status;
    engine.onMatched = (result) => {
      for (const alert of result.alerts) this.#emit('alert', alert);
      if (result.matchingError) this.#emit('error', refusal('frame', 'AUTHORITY_UNAVAILABLE', result.matchingError));
      this.#showStatus(result.status);
    };
    engine.onDisclosed = ({ status: next, ...disclosure }) => {
      this.#emit('disclosure', disclosure);
      this.#showStatus(next);
    };
  }

  /** The latest KioskStatus. */
  get status() {
    return this.#status;
  }

  #emit(type, detail) {
    this.dispatchEvent(new CustomEvent(type, { detail }));
  }

  #showStatus(status) {
    if (!status) return;
    this.#status = status;
    this.#emit('status', status);
  }

  /**
   * Processes one frame (an ImageBitmap, which is transferred and closed, or a VideoFrame,
   * HTMLVideoElement, HTMLCanvasElement or OffscreenCanvas, which is copied). Resolves with the
   * FrameResult `{faces, alerts, counters, width, height, ms, querying, status}` and emits `faces`,
   * `alert` and `status`.
   */
  async processFrame(frame, t = Date.now()) {
    const bitmap = await toBitmap(frame, 'frame');
    const result = await this.#engine.processFrame(bitmap, t);
    this.#emit('faces', result);
    for (const alert of result.alerts) this.#emit('alert', alert);
    this.#showStatus(result.status);
    return result;
  }

  /**
   * Processes frames from `source` (a `<video>` that plays, or a MediaStream; `'camera'` opens the
   * device's camera) until `stop()`: one frame at a time, so a slow device drops frames rather than
   * queue them. Results arrive as events. Resolves once frames flow.
   */
  async run(source = 'camera') {
    if (this.#camera) throw refusal('frame', 'SOURCE_INVALID', 'this kiosk already runs a source; stop() it first');
    let video;
    let stream = null;
    if (typeof HTMLVideoElement !== 'undefined' && source instanceof HTMLVideoElement) {
      video = source;
    } else {
      video = document.createElement('video');
      video.muted = true;
      video.playsInline = true;
      if (source === 'camera') {
        stream = await openCamera(video, () => this.#emit('error', refusal('frame', 'CAMERA_ENDED', 'the camera stopped'))).catch((error) => {
          throw refusal('frame', cameraErrorCode(error), cameraProblem(error));
        });
      } else if (typeof MediaStream !== 'undefined' && source instanceof MediaStream) {
        video.srcObject = source;
        await video.play();
      } else {
        throw refusal('frame', 'SOURCE_INVALID', 'run() takes a <video>, a MediaStream or "camera"');
      }
    }
    const camera = { video, stream, ownsStream: stream !== null, framesInFlight: 0 };
    this.#camera = camera;
    pumpFrames(video, camera, (bitmap) => this.processFrame(bitmap).catch((error) => this.#emit('error', error)),
      (error) => this.#emit('error', refusal('frame', 'SOURCE_INVALID', `a frame could not be read: ${error.message}`)),
      { inFlight: this.#engine.pipelineDepth });
    // pumpFrames runs while `stream` is set; a caller's own <video> has none of ours.
    camera.stream ??= video.srcObject ?? true;
    return hasFrame(video);
  }

  /**
   * Loads a deployment: `{watchlist, issuerKey, profile, custody, kioskPublicKey?}` (DeploymentOptions;
   * the watchlist's buffer is transferred). Under authority custody the key check with the authority
   * happens inside; resolves with the new KioskStatus once it passed.
   */
  async loadDeployment(deployment) {
    const reply = await this.#engine.loadWatchlist(deployment);
    this.#showStatus(reply.status);
    return reply.status;
  }

  /** Demonstration mode: enrols the face in `frame` under `label`. Resolves with the entry count. */
  async enrol(frame, label) {
    const reply = await this.#engine.enrol(await toBitmap(frame, 'enrol'), label);
    this.#showStatus(reply.status);
    return reply.count;
  }

  /** Records a reviewer's `decision` ('confirm' | 'reject' | 'unsure') on alert `alertId`. */
  async review(alertId, decision, reviewer) {
    if (!DECISIONS.has(decision)) throw refusal('review', 'REVIEW_INVALID', `a decision is 'confirm', 'reject' or 'unsure', not '${decision}'`);
    const reply = await this.#engine.review(alertId, decision, reviewer);
    this.#showStatus(reply.status);
  }

  /** The audit log (JSON lines), as stored on this device. */
  async auditLog() {
    return (await this.#engine.auditLog()).text;
  }

  /**
   * This device's kiosk key's public hex (the key the issuer registers for authority custody),
   * created on first call: a non-extractable WebCrypto Ed25519 key kept in IndexedDB.
   */
  async kioskKey() {
    const key = (await loadKioskKey()) ?? (await createKioskKey());
    await this.#engine.bindKioskKey(key.publicHex);
    return key.publicHex;
  }

  /** Stops the source (and the camera, if this kiosk opened it), ends every track (their buffers
   * are wiped) and ends the Worker. The kiosk cannot be used afterwards. */
  async stop() {
    const camera = this.#camera;
    this.#camera = null;
    if (camera) {
      camera.stream = null;
      if (camera.ownsStream) closeCamera(camera.video, camera.video.srcObject);
    }
    try {
      await this.#engine.stop();
    } finally {
      this.#engine.terminate();
    }
  }
}

async function toBitmap(frame, request) {
  if (typeof ImageBitmap !== 'undefined' && frame instanceof ImageBitmap) return frame;
  try {
    return await createImageBitmap(frame);
  } catch (error) {
    throw refusal(request, 'SOURCE_INVALID', `not a frame this kiosk can read (an ImageBitmap, VideoFrame, <video> or canvas): ${error.message}`);
  }
}

/**
 * Starts a kiosk: the engine in a module Worker from `baseUrl`, the two models from `modelsUrl`
 * (default: `models/` under `baseUrl`; the files and their SHA-256s are in the package's
 * models.json). `overseerPublicKey` (64 hex digits): every profile must then be co-signed by it.
 * `deployment`: loaded once the models are (see `loadDeployment`). `onProgress({loaded, total})`:
 * model download progress. Resolves with a VeilwatchKiosk once the models are loaded; rejects with a
 * VeilwatchError (e.g. MODEL_DOWNLOAD_FAILED, AUDIT_LOG_BROKEN).
 */
export async function createKiosk({ baseUrl, modelsUrl, overseerPublicKey, deployment, onProgress } = {}) {
  // The camera, WebCrypto (the models' SHA-256 check, the kiosk key) and so the kiosk need one.
  if (globalThis.isSecureContext === false) {
    throw refusal('start', 'INSECURE_CONTEXT', 'this page is not served over HTTPS, so the browser offers it no camera and no WebCrypto; serve it over HTTPS');
  }
  const base = baseUrl ? folderUrl(baseUrl) : defaultBaseUrl();
  const models = modelsUrl ? folderUrl(modelsUrl) : new URL('models/', base);
  const engine = new EngineClient(new URL('kiosk-worker.js', base));
  if (onProgress) engine.onProgress = ({ loaded, total }) => onProgress({ loaded, total });
  const key = await loadKioskKey().catch(() => null);
  let kiosk;
  try {
    const { status } = await engine.start({ modelsUrl: models, kioskKey: key?.publicHex, ...(overseerPublicKey ? { overseerPublicKey } : {}) });
    kiosk = new VeilwatchKiosk(engine, status);
    if (deployment) await kiosk.loadDeployment(deployment);
  } catch (error) {
    engine.terminate();
    throw error;
  }
  return kiosk;
}
