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

import { auditAnchors } from '../kiosk/audit-anchors.js';
import { clearLog, storedHeads, storedLog } from '../kiosk/audit-store.js';
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

/** The refusals of a start that mean the stored audit log cannot be continued. */
const LOG_REFUSALS = new Set(['AUDIT_LOG_BROKEN', 'AUDIT_LOG_FOREIGN']);

/** How often the audit head is signed (and anchored) besides at alerts, reviews and loads. */
const ANCHOR_EVERY_MS = 60_000;

const refusal = (request, code, message) => new EngineError({ request, code, message });

/** The package's folder, when this file is served from `api/` inside it. */
const defaultBaseUrl = () => new URL('../', import.meta.url);

/** A folder URL (ending in /), resolved against the document. */
function folderUrl(url) {
  const resolved = new URL(url, globalThis.location?.href);
  if (!resolved.pathname.endsWith('/')) resolved.pathname += '/';
  return resolved;
}

/** A copy of `deployment` with watchlist bytes of its own: each load transfers (detaches) the
 * buffer it sends, and the kiosk keeps a copy to load again after an engine restart. */
const withOwnWatchlist = (deployment) => ({ ...deployment, watchlist: deployment.watchlist.slice() });

// createKiosk's way in to a kiosk's start (the constructor alone does not start an engine).
let launch;

/**
 * A running kiosk (createKiosk resolves with it once the models are loaded; their download
 * progress goes to its `onProgress`). Events (each a CustomEvent whose `detail` is given):
 * `faces` the FrameResult of each processed frame; `alert` one AlertView per new alert (also those
 * that finish later under authority custody), before the `faces` of its frame; `matched`
 * `{counters, matchingError?, auditStoreError?}` when a blind match that waited for the authority
 * finished; `disclosure` `{alert, record?, material?}`; `status` the KioskStatus whenever it
 * changes; `anchor` the AnchorCounts whenever the audit head was signed or sent; `restart`
 * `{reason, unreviewed}` once a new engine continues after the previous one stopped on an internal
 * error (`unreviewed`: the ids of the stopped engine's alerts that can no longer be reviewed);
 * `error` a VeilwatchError from the camera loop, a late authority answer, a failed restart or a
 * deployment that no longer loads after one.
 *
 * The audit log stays durable and signed without the page's help: its head is signed with the
 * kiosk key (if this device has one) at every load, alert and review and every minute, stored
 * beside the log, and under authority custody sent to the authority's /v1/anchor. If the engine
 * stops on an internal error (its wasm instance trapped), a new Worker continues the stored log
 * with a `restart` line and the loaded deployment is loaded again; calls made meanwhile wait for it.
 */
export class VeilwatchKiosk extends EventTarget {
  #options;
  #engine = null;
  /** Settles once the engine answers (after the first start, or a restart). */
  #ready = Promise.resolve();
  #camera = null;
  #status = null;
  #chart = null;
  /** The kiosk key `{pair, publicHex}`, or null until this device has one. */
  #key = null;
  /** The loaded deployment (with the watchlist's own copy), loaded again after a restart. */
  #deployment = null;
  #deploymentId = null;
  /** Alerts this engine raised that no review has closed yet. */
  #unreviewed = new Set();
  #anchors;
  #timer = null;
  #stopped = false;

  /** @param {{workerUrl: URL, modelsUrl: URL, overseerPublicKey?: string, onProgress?: Function}} options */
  constructor(options) {
    super();
    this.#options = options;
    this.#anchors = auditAnchors({
      engineHead: () => this.auditHead(),
      kioskKey: () => this.#key,
      authority: () => (['authority', 'sealed'].includes(this.#deployment?.custody.kind) ? this.#deployment.custody.url : null),
      deployment: () => this.#deploymentId,
      show: (counts) => this.#emit('anchor', { ...counts }),
    });
  }

  static {
    launch = (kiosk, key, restartReason) => kiosk.#launch(key, restartReason);
  }

  /** The latest KioskStatus. */
  get status() {
    return this.#status;
  }

  /** The chart (SVG) of false alerts and true matches against the threshold for the loaded (or
   * demonstration) watchlist, drawn by the engine from the shipped calibration; null before one. */
  get operatingPointChart() {
    return this.#chart;
  }

  /** This device's kiosk key's public hex, or null while it has none (see `kioskKey()`). */
  get kioskPublicKey() {
    return this.#key?.publicHex ?? null;
  }

  #emit(type, detail) {
    this.dispatchEvent(new CustomEvent(type, { detail }));
  }

  #showStatus(status) {
    if (!status) return;
    this.#status = status;
    this.#emit('status', status);
  }

  #showAlerts(alerts) {
    for (const alert of alerts) {
      this.#unreviewed.add(alert.id);
      this.#emit('alert', alert);
    }
    if (alerts.length > 0) this.#anchors.anchor();
  }

  // Starts an engine Worker that continues the stored audit log (with a `restart` line carrying
  // `restartReason` if there is one), and loads the kept deployment into it.
  async #launch(key, restartReason) {
    this.#key = key;
    const { workerUrl, modelsUrl, overseerPublicKey, onProgress } = this.#options;
    const engine = new EngineClient(workerUrl, { onFatal: (error) => this.#restart(error) });
    if (onProgress) engine.onProgress = ({ loaded, total }) => onProgress({ loaded, total });
    engine.onMatched = ({ type, alerts, status, ...outcome }) => {
      this.#showAlerts(alerts);
      this.#showStatus(status);
      if (outcome.matchingError) this.#emit('error', refusal('match', 'AUTHORITY_UNAVAILABLE', outcome.matchingError));
      this.#emit('matched', outcome);
    };
    engine.onDisclosed = ({ type, status, ...disclosure }) => {
      this.#emit('disclosure', disclosure);
      this.#showStatus(status);
    };
    try {
      const { status } = await engine.start({ modelsUrl, kioskKey: key?.publicHex, restartReason, ...(overseerPublicKey ? { overseerPublicKey } : {}) });
      this.#engine = engine;
      this.#showStatus(status);
      // After a restart: the deployment again (one that no longer loads, say expired, is dropped
      // and reported; the kiosk runs on without it, as after any refused load).
      if (this.#deployment) {
        await this.#load(this.#deployment).catch((error) => {
          this.#deployment = null;
          this.#deploymentId = null;
          this.#emit('error', error);
        });
      }
    } catch (error) {
      engine.terminate();
      throw error;
    }
    this.#anchors.anchor();
    this.#timer ??= setInterval(() => this.#anchors.anchor(), ANCHOR_EVERY_MS);
  }

  // The engine stopped on an internal error: a new Worker, the same stored log, the same deployment.
  // The alerts it raised and nobody reviewed cannot be reviewed any more (the new engine does not
  // hold them, and numbers its own alerts from 1 again): `restart` names them, so that no decision
  // meant for one of them is recorded against a new alert with the same number.
  #restart(error) {
    if (this.#stopped) return;
    this.#engine?.terminate();
    this.#engine = null;
    const unreviewed = [...this.#unreviewed];
    this.#unreviewed.clear();
    this.#ready = this.#launch(this.#key, error.message).then(
      () => this.#emit('restart', { reason: error.message, unreviewed }),
      (failure) => {
        this.#emit('error', failure);
        throw failure;
      },
    );
    this.#ready.catch(() => {});
  }

  // The engine, once it answers (after a restart under way, if there is one).
  async #running() {
    await this.#ready;
    if (!this.#engine) throw refusal('start', 'ENGINE_STOPPED', this.#stopped ? 'this kiosk was stopped' : 'the face engine is not running');
    return this.#engine;
  }

  async #load(deployment) {
    const reply = await this.#engine.loadWatchlist(withOwnWatchlist(deployment));
    this.#deployment = deployment;
    this.#deploymentId = reply.deploymentId ?? null;
    this.#chart = reply.chart ?? null;
    this.#showStatus(reply.status);
    this.#anchors.anchor();
    return reply.status;
  }

  /**
   * Processes one frame (an ImageBitmap, which is transferred and closed, or a VideoFrame,
   * HTMLVideoElement, HTMLCanvasElement or OffscreenCanvas, which is copied). Resolves with the
   * FrameResult `{faces, alerts, counters, width, height, ms, querying, status}` and emits
   * `alert`, `faces` and `status`.
   */
  async processFrame(frame, t = Date.now()) {
    const bitmap = await toBitmap(frame, 'frame');
    let engine;
    try {
      engine = await this.#running();
    } catch (error) {
      bitmap.close();
      throw error;
    }
    const result = await engine.processFrame(bitmap, t);
    this.#showAlerts(result.alerts);
    this.#emit('faces', result);
    this.#showStatus(result.status);
    return result;
  }

  /**
   * Processes frames from `source` (a `<video>` that plays, or a MediaStream; `'camera'` opens the
   * device's camera) until `pause()` or `stop()`: one frame at a time, so a slow device drops
   * frames rather than queue them. Results arrive as events. Resolves once frames flow.
   */
  async run(source = 'camera') {
    if (this.#camera) throw refusal('frame', 'SOURCE_INVALID', 'this kiosk already runs a source; pause() or stop() it first');
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
   * Stops the source (and the camera, if this kiosk opened it) and ends every track (their
   * buffers are wiped). The engine and the loaded deployment stay: `run()` may be called again.
   * Resolves with the KioskStatus.
   */
  async pause() {
    const camera = this.#camera;
    this.#camera = null;
    if (camera) {
      camera.stream = null;
      if (camera.ownsStream) closeCamera(camera.video, camera.video.srcObject);
    }
    const reply = await (await this.#running()).stop();
    this.#showStatus(reply.status);
    return this.#status;
  }

  /**
   * Loads a deployment: `{watchlist, issuerKey, profile, custody, kioskPublicKey?}` (DeploymentOptions;
   * the caller's watchlist bytes are copied, not taken). Under authority custody the key check with the authority
   * happens inside; resolves with the new KioskStatus once it passed. The kiosk keeps the
   * deployment (in memory, as the engine does) to load it again if the engine has to restart.
   */
  async loadDeployment(deployment) {
    await this.#running();
    return this.#load(withOwnWatchlist(deployment));
  }

  /** Demonstration mode: enrols the face in `frame` under `label`. Resolves with the entry count. */
  async enrol(frame, label) {
    const bitmap = await toBitmap(frame, 'enrol');
    const reply = await (await this.#running()).enrol(bitmap, label);
    this.#chart = reply.chart ?? this.#chart;
    this.#showStatus(reply.status);
    return reply.count;
  }

  /** Records a reviewer's `decision` ('confirm' | 'reject' | 'unsure') on alert `alertId`. */
  async review(alertId, decision, reviewer) {
    if (!DECISIONS.has(decision)) throw refusal('review', 'REVIEW_INVALID', `a decision is 'confirm', 'reject' or 'unsure', not '${decision}'`);
    const reply = await (await this.#running()).review(alertId, decision, reviewer);
    this.#unreviewed.delete(alertId);
    this.#showStatus(reply.status);
    this.#anchors.anchor();
  }

  /** The audit log (JSON lines) as the engine holds it. */
  async auditLog() {
    return (await (await this.#running()).auditLog()).text;
  }

  /** The audit chain's head `{seq, head}` (what the kiosk key signs), or undefined before any line. */
  async auditHead() {
    return (await (await this.#running()).auditHead()).head;
  }

  /** Signs the audit head now (and stores it, and under authority custody sends it), after any
   * signing under way; resolves with the AnchorCounts. Nothing is signed without a kiosk key. */
  async anchor() {
    await this.#anchors.anchor();
    return { ...this.#anchors.counts };
  }

  /**
   * This device's kiosk key's public hex (the key the issuer registers for authority custody),
   * created on first call: a non-extractable WebCrypto Ed25519 key kept in IndexedDB. An audit log
   * started without a key is bound to it, and its head signed with it, from then on.
   */
  async kioskKey() {
    const engine = await this.#running();
    const key = this.#key ?? (await loadKioskKey()) ?? (await createKioskKey());
    await engine.bindKioskKey(key.publicHex);
    this.#key = key;
    this.#anchors.anchor();
    return key.publicHex;
  }

  /** Stops the source (and the camera, if this kiosk opened it), ends every track (their buffers
   * are wiped) and ends the Worker. The kiosk cannot be used afterwards. */
  async stop() {
    this.#stopped = true;
    clearInterval(this.#timer);
    const camera = this.#camera;
    this.#camera = null;
    if (camera) {
      camera.stream = null;
      if (camera.ownsStream) closeCamera(camera.video, camera.video.srcObject);
    }
    await this.#ready.catch(() => {});
    const engine = this.#engine;
    this.#engine = null;
    this.#deployment = null;
    if (!engine) return;
    try {
      await engine.stop();
    } finally {
      engine.terminate();
    }
  }
}

/**
 * The audit log and its signed heads as stored on this device (JSON lines each, as `veilwatch
 * audit verify --anchors` reads them), and the log's line count. Reads storage only, so it works
 * when no kiosk runs, or none can start.
 */
export async function storedAudit() {
  const [{ text, count }, heads] = await Promise.all([storedLog(), storedHeads()]);
  return { log: text, heads, lines: count };
}

/**
 * When createKiosk refused with AUDIT_LOG_BROKEN or AUDIT_LOG_FOREIGN (`refusal`), the operator's
 * way on: resolves with the stored log and its signed heads, exactly as stored (keep them: they are
 * the evidence), and removes them from the device. Pass the result to createKiosk as `archived`:
 * the new log's first lines then say what was archived and why.
 */
export async function archiveAuditLog(refusal) {
  if (!isVeilwatchError(refusal) || !LOG_REFUSALS.has(refusal.code)) {
    throw refusal('archive', 'OPTIONS_INVALID', 'archiveAuditLog takes the AUDIT_LOG_BROKEN or AUDIT_LOG_FOREIGN refusal of createKiosk; an intact audit log is never removed');
  }
  const stored = await storedAudit();
  await clearLog();
  return { ...stored, reason: `the operator archived the stored audit log (${stored.lines} lines), which could not be continued: ${refusal.message}` };
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
 * model download progress (again when the engine restarts). `archived`: what `archiveAuditLog`
 * returned, when the stored log could not be continued. Resolves with a VeilwatchKiosk once the
 * models are loaded; rejects with a VeilwatchError (e.g. MODEL_DOWNLOAD_FAILED, AUDIT_LOG_BROKEN).
 */
export async function createKiosk({ baseUrl, modelsUrl, overseerPublicKey, deployment, onProgress, archived } = {}) {
  // The camera, WebCrypto (the models' SHA-256 check, the kiosk key) and so the kiosk need one.
  if (globalThis.isSecureContext === false) {
    throw refusal('start', 'INSECURE_CONTEXT', 'this page is not served over HTTPS, so the browser offers it no camera and no WebCrypto; serve it over HTTPS');
  }
  const base = baseUrl ? folderUrl(baseUrl) : defaultBaseUrl();
  const models = modelsUrl ? folderUrl(modelsUrl) : new URL('models/', base);
  const kiosk = new VeilwatchKiosk({ workerUrl: new URL('kiosk-worker.js', base), modelsUrl: models, overseerPublicKey, onProgress });
  const key = await loadKioskKey().catch(() => null);
  try {
    await launch(kiosk, key, archived?.reason);
    if (deployment) await kiosk.loadDeployment(deployment);
  } catch (error) {
    await kiosk.stop();
    throw error;
  }
  return kiosk;
}
