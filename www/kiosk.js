// The kiosk page: camera in, tracked boxes and alerts out. This module only wires the parts in
// kiosk/: the engine Worker's client, the camera, the views, and the one state object below. The
// page moves frames to the Worker (transferable ImageBitmaps, one in flight, so a slow laptop drops
// frames rather than queue them), draws what comes back, and carries reviewers' decisions back.
// The audit log is durable (IndexedDB, written by the Worker) and its head is signed with the kiosk
// key (kiosk/kiosk-key.js) and anchored (kiosk/audit-anchors.js). If the engine stops on an
// internal error, a new Worker is started; it continues the stored log with a `restart` line and
// the page loads the deployment again. Problems go to an assertive live region, news to a polite
// one (kiosk/status-line.js); while the camera runs the screen is kept on (kiosk/screen.js), and
// "Full-screen kiosk mode" shows the public view alone on an unattended screen.

import { messagesFor } from './api/element-messages.js';
import { errorMessage } from './api/error-messages.js';
import { alertsPanel } from './kiosk/alerts-panel.js';
import { auditAnchors } from './kiosk/audit-anchors.js';
import { clearLog, storedHeads, storedLog } from './kiosk/audit-store.js';
import { cameraProblem, closeCamera, grabFrame, hasFrame, openCamera, pumpFrames } from './kiosk/camera.js';
import { EngineClient } from './kiosk/engine-client.js';
import { createKioskKey, loadKioskKey } from './kiosk/kiosk-key.js';
import { publishNotice } from './kiosk/notice-channel.js';
import {
  downloadAudit, focusFieldFor, FormProblem, readDeployment, readKioskConfig, showEnrolment,
} from './kiosk/operator-panel.js';
import { drawFaces } from './kiosk/overlay.js';
import { explain } from './kiosk/problems.js';
import { screenKeeper, toggleFullscreen } from './kiosk/screen.js';
import { statusLine } from './kiosk/status-line.js';
import { showChart, showCounters, showWatchlist } from './kiosk/status-panel.js';

const $ = (id) => document.getElementById(id);
const video = $('camera');

/** Everything on this page that changes. */
const state = {
  /** The camera's stream while it runs, else null. */
  stream: null,
  /** Frames with the engine (up to its pipeline depth); the next one waits for a reply. */
  framesInFlight: 0,
  /** Tracks that raised an alert, drawn as alerts. */
  alertTracks: new Set(),
  /** The engine answers requests (false while it starts or restarts). */
  engineReady: false,
  /** The kiosk key `{pair, publicHex}`, or null until the operator creates one. */
  kioskKey: null,
  /** The authority URL of the loaded deployment in authority custody, else null. */
  authority: null,
  /** The loaded deployment's id (32 hex), which signed authority requests name. */
  deploymentId: null,
  /** A deployment from the operator form is loaded (loaded again after an engine restart). */
  deploymentLoaded: false,
  /** Why the stored audit log could not be continued, if it could not. */
  auditRefusal: null,
  /** The latest kiosk status (what the panels, "Enrol me" and the public notice show). */
  status: null,
  /** The kiosk's configuration from the deployment folder (`{overseerPublicKey?}`). */
  config: {},
};

const workerUrl = new URL('kiosk-worker.js', import.meta.url);
let engine = null;
const notice = publishNotice();
const screen = screenKeeper();
/** The words the page shares with <veilwatch-kiosk> (model download progress), in the page's language. */
const words = messagesFor(document.documentElement.lang);

/** Shows a new kiosk status everywhere it matters. */
function showStatus(status) {
  if (!status) return;
  state.status = status;
  showWatchlist(status);
  showEnrolment(status, Boolean(state.stream));
  notice.update(status);
}

const status = statusLine($('status'));
const say = (text, error = false) => status.say(text, { error });
const refused = (error) => say(explain(error), true);
const anchors = auditAnchors({
  engineHead: () => (state.engineReady ? engine.auditHead().then((reply) => reply.head) : Promise.resolve(undefined)),
  kioskKey: () => state.kioskKey,
  authority: () => state.authority,
  deployment: () => state.deploymentId,
  show: showAnchors,
});
const alerts = alertsPanel({
  say: status.say,
  onDecide: (id, decision, reviewer) => engine.review(id, decision, reviewer).then((reply) => {
    if (alerts.remove(reply.alert)) say(`Alert ${reply.alert} reviewed: ${reply.decision}. Recorded in the audit log.`);
    showStatus(reply.status);
    anchors.anchor();
  }, refused),
});

function showAnchors({ signedSeq, signedAt, sent, failed, lastFailure }) {
  const signed = signedSeq ? `Audit head signed at line ${signedSeq} (${signedAt}).` : 'Audit head not signed yet.';
  const authority = state.authority ? ` Anchored at the authority: ${sent} sent, ${failed} failed${lastFailure ? ` (last: ${lastFailure})` : ''}.` : '';
  $('anchor-status').textContent = signed + authority;
}

function showKioskKey() {
  $('kiosk-key').textContent = state.kioskKey?.publicHex ?? 'none yet: create one, then register it with the issuer';
  $('create-kiosk-key').hidden = state.kioskKey !== null;
}

// Starts an engine Worker that continues the stored audit log (with a `restart` line carrying
// `restartReason` after a failure).
function startEngine(restartReason) {
  state.engineReady = false;
  engine = new EngineClient(workerUrl, { onFatal: restartEngine });
  engine.onProgress = ({ loaded, total }) => {
    if (total > 0) $('model-progress').value = loaded / total;
    say(words.progress(loaded, total));
  };
  engine.onMatched = (result) => {
    showMatches(result, true);
    showStatus(result.status);
  };
  engine.onDisclosed = (result) => {
    alerts.update(result);
    if (result.material) status.say(`Alert ${result.alert}: ${result.material}`, { error: true, topic: 'material' });
    showStatus(result.status);
  };
  return engine.start({ ...state.config, kioskKey: state.kioskKey?.publicHex, restartReason }).then(async (reply) => {
    // A key created while the engine was starting is bound now (binding the same key again is a no-op).
    if (state.kioskKey) await engine.bindKioskKey(state.kioskKey.publicHex);
    state.engineReady = true;
    $('model-progress').value = 1;
    showStatus(reply.status);
    anchors.anchor();
    return reply;
  });
}

// The engine stopped: a new Worker, the same stored log, and the deployment loaded again.
function restartEngine(error) {
  refused(error);
  engine.terminate();
  startEngine(error.message).then(async () => {
    say('The face engine was restarted after an internal error; the audit log continues.');
    if (state.deploymentLoaded && loadedDeployment) await loadDeployment(loadedDeployment);
  }, refused);
}

// What a blind match led to: alerts, or why matching is paused. `attempted`: whether a match
// finished here (a frame that only sent queries to the authority has not finished one).
function showMatches(result, attempted) {
  if (result.status?.paused) {
    // An authority answer failed its proof: paused until the deployment is loaded again.
    status.say(`Matching is paused: ${result.status.paused}. Faces are still detected and wiped; load the deployment again once the authority is fixed.`,
      { error: true, topic: 'matching-paused' });
  } else if (result.matchingError) {
    status.say(`Matching is paused: ${result.matchingError}. Faces are still detected and wiped; matching resumes when this clears.`,
      { error: true, topic: 'matching-paused' });
  } else if (attempted && status.showing('matching-paused')) {
    say('Matching resumed.');
  }
  for (const alert of result.alerts) {
    state.alertTracks.add(alert.track);
    alerts.add(alert);
  }
  if (result.alerts.length > 0) anchors.anchor();
  if (result.auditStoreError) status.say(result.auditStoreError, { error: true, topic: 'audit-store' });
}

function showFrame(result) {
  showMatches(result, result.querying === 0);
  drawFaces($('overlay'), video, result, state.alertTracks, $('faces-summary'));
  showCounters(result.counters, result.ms);
  showStatus(result.status);
}

async function startCamera() {
  $('start').disabled = true;
  try {
    state.stream = await openCamera(video, () => {
      stopCamera();
      say('The camera stopped (was it unplugged?). Reconnect it, then press Start camera again.', true);
    });
  } catch (error) {
    say(cameraProblem(error), true);
    $('start').disabled = false;
    return;
  }
  $('overlay').width = video.videoWidth;
  $('overlay').height = video.videoHeight;
  $('stop').disabled = false;
  showEnrolment(state.status, true);
  say('Camera running. Faces are processed on this device only.');
  screen.keepOn();
  pumpFrames(video, state, (bitmap) => {
    if (!state.engineReady) return bitmap.close();
    return engine.processFrame(bitmap, Date.now()).then(showFrame, refused);
  },
    (error) => say(`A camera frame could not be read: ${error.message}`, true), { inFlight: engine.pipelineDepth });
}

function stopCamera() {
  closeCamera(video, state.stream);
  state.stream = null;
  $('start').disabled = false;
  $('stop').disabled = true;
  screen.release();
  showEnrolment(state.status, false);
  if (state.engineReady) engine.stop().then((reply) => showStatus(reply.status), refused);
}

$('start').addEventListener('click', startCamera);
$('kiosk-mode').addEventListener('click', () => toggleFullscreen(document.documentElement)
  .catch((error) => say(`Full-screen kiosk mode is not available here: ${error.message}`, true)));
document.addEventListener('fullscreenchange', () => {
  const on = document.fullscreenElement !== null;
  document.body.classList.toggle('kiosk-mode', on);
  $('kiosk-mode').setAttribute('aria-pressed', String(on));
});
$('stop').addEventListener('click', () => {
  stopCamera();
  say('Camera stopped. Tracks ended and their data wiped.');
});
$('enrol').addEventListener('click', async () => {
  if (!state.stream || !hasFrame(video)) return say('Start the camera first.', true);
  const label = $('enrol-name').value;
  engine.enrol(await grabFrame(video), label).then((reply) => {
    say(`${reply.label} enrolled (${reply.count} in the demonstration watchlist). Step away and come back: the kiosk should alert.`);
    showStatus(reply.status);
    showChart(reply.chart);
  }, refused);
});
// The deployment the engine holds, kept here (module scope, not the DOM) only so that an engine
// restart can load it again: once loaded, the local-custody PRF key leaves the form.
let loadedDeployment = null;

async function loadDeployment(again = null) {
  let deployment = again;
  try {
    deployment ??= await readDeployment(state.kioskKey?.publicHex ?? null);
  } catch (error) {
    if (error instanceof FormProblem) return say(error.message, true);
    throw error;
  }
  const authority = deployment.custody.kind === 'authority' ? deployment.custody.url : null;
  if (authority) say(`Watchlist verified here; checking that the authority at ${authority} holds its key…`);
  return engine.loadWatchlist(deployment).then((reply) => {
    loadedDeployment = deployment;
    // The engine holds the key now: no page script can read it from the form any more.
    $('prf-key').value = '';
    say('Watchlist loaded and verified. Matching is on.');
    state.authority = authority;
    state.deploymentId = reply.deploymentId ?? null;
    state.deploymentLoaded = true;
    showStatus(reply.status);
    showChart(reply.chart);
    anchors.anchor();
  }, (error) => {
    refused(error);
    focusFieldFor(error.code);
  });
}

$('load-form').addEventListener('submit', (event) => {
  event.preventDefault();
  loadDeployment();
});
// The exports read what is stored on the device, so they work even when the engine cannot start.
$('export-audit').addEventListener('click', () => storedLog().then(({ text }) => downloadAudit(text, 'veilwatch-audit.jsonl'), refused));
$('export-anchors').addEventListener('click', () => anchors.anchor()
  .then(storedHeads)
  .then((text) => downloadAudit(text, 'veilwatch-audit-anchors.jsonl'), refused));
$('create-kiosk-key').addEventListener('click', async () => {
  try {
    state.kioskKey = await createKioskKey();
  } catch (error) {
    return say(`The kiosk key could not be created: ${error.message}`, true);
  }
  showKioskKey();
  say('Kiosk key created. Register its public key with the issuer; the audit log is now signed with it.');
  if (state.engineReady) engine.bindKioskKey(state.kioskKey.publicHex).then(() => anchors.anchor(), refused);
});
// A stored log that cannot be continued stops the kiosk. Only the operator can move on: the log and
// its signed heads are exported as they are, removed, and the new log's first lines say why.
$('archive-audit').addEventListener('click', async () => {
  const refusal = state.auditRefusal;
  const [{ text, count }, heads] = await Promise.all([storedLog(), storedHeads()]);
  downloadAudit(text, 'veilwatch-audit-archived.jsonl');
  downloadAudit(heads, 'veilwatch-audit-archived-anchors.jsonl');
  await clearLog();
  $('archive-audit').hidden = true;
  engine.terminate();
  startEngine(`the operator archived the stored audit log (${count} lines), which could not be continued: ${refusal}`).then(() => {
    say('The stored audit log was exported and a new one started. Models loaded. Press Start camera.');
    $('start').disabled = false;
  }, refused);
});
setInterval(() => anchors.anchor(), 60_000);

// Outside a secure context the browser offers no camera and no WebCrypto (the models' SHA-256
// check, the kiosk key): the kiosk says so and does not start, instead of "No camera was found"
// or a failed model check.
if (!window.isSecureContext) {
  say(errorMessage('INSECURE_CONTEXT', document.documentElement.lang), true);
} else {
  Promise.all([readKioskConfig(), loadKioskKey().catch((error) => {
    say(`The kiosk key could not be read from this browser's storage: ${error.message}`, true);
    return null;
  })]).then(([config, key]) => {
    state.config = config;
    state.kioskKey = key;
    showKioskKey();
    return startEngine();
  }).then(() => {
    say('Models loaded. Press Start camera.');
    $('start').disabled = false;
  }, (error) => {
    refused(error);
    if (error.code === 'AUDIT_LOG_BROKEN' || error.code === 'AUDIT_LOG_FOREIGN') {
      state.auditRefusal = error.message;
      $('archive-audit').hidden = false;
    }
  });
}
// Cache the application so the kiosk keeps working if its server or the network goes away.
navigator.serviceWorker?.register('/sw.js').catch((error) => {
  console.warn(`offline cache unavailable: ${error.message}`);
});
