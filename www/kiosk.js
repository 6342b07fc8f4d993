// The kiosk page: a thin page over the package's own API (api/create-kiosk.js), the same
// `createKiosk` a portal imports, so that the app and the portal path cannot drift. The API owns
// the engine Worker, the durable audit log, its signing and anchoring, restarting after an
// internal error, and the authority round trips; this module only wires its events to the views
// in kiosk/ and the operator's controls to its methods. Frames go through the API's frame path
// (`kiosk.run` on the page's <video>). Problems go to an assertive live region, news to a polite
// one (kiosk/status-line.js); while the camera runs the screen is kept on (kiosk/screen.js), and
// "Full-screen kiosk mode" shows the public view alone on an unattended screen.

import { archiveAuditLog, createKiosk, storedAudit } from './api/create-kiosk.js';
import { messagesFor } from './api/element-messages.js';
import { alertsPanel } from './kiosk/alerts-panel.js';
import { cameraProblem, closeCamera, hasFrame, openCamera } from './kiosk/camera.js';
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

/** The running kiosk (a VeilwatchKiosk), or null while it starts or cannot. */
let kiosk = null;
/** The camera's stream while it runs, else null. */
let stream = null;
/** Tracks that raised an alert, drawn as alerts. */
const alertTracks = new Set();
/** Why the stored audit log could not be continued (createKiosk's refusal), if it could not. */
let logRefusal = null;

const notice = publishNotice();
const screen = screenKeeper();
/** The words the page shares with <veilwatch-kiosk> (model download progress), in the page's language. */
const words = messagesFor(document.documentElement.lang);
const status = statusLine($('status'));
const say = (text, error = false) => status.say(text, { error });
const refused = (error) => say(explain(error), true);

/** Shows a kiosk status everywhere it matters. */
function showStatus(next) {
  if (!next) return;
  showWatchlist(next);
  showEnrolment(next, Boolean(stream));
  notice.update(next);
}

function showAnchors({ signedSeq, signedAt, sent, failed, lastFailure }) {
  const signed = signedSeq ? `Audit head signed at line ${signedSeq} (${signedAt}).` : 'Audit head not signed yet.';
  const authority = sent + failed > 0 ? ` Anchored at the authority: ${sent} sent, ${failed} failed${lastFailure ? ` (last: ${lastFailure})` : ''}.` : '';
  $('anchor-status').textContent = signed + authority;
}

function showKioskKey() {
  $('kiosk-key').textContent = kiosk?.kioskPublicKey ?? (kiosk ? 'none yet: create one, then register it with the issuer' : '…');
  $('create-kiosk-key').hidden = !kiosk || kiosk.kioskPublicKey !== null;
}

const alerts = alertsPanel({
  say: status.say,
  onDecide: (id, decision, reviewer) => kiosk.review(id, decision, reviewer).then(() => {
    if (alerts.remove(id)) say(`Alert ${id} reviewed: ${decision}. Recorded in the audit log.`);
  }, refused),
});

// Why matching is paused, if it is, or that it resumed. `attempted`: whether a match finished
// (a frame that only sent queries to the authority has not finished one).
function showMatching({ matchingError, auditStoreError }, attempted) {
  const paused = kiosk.status?.paused;
  if (paused) {
    // An authority answer failed its proof: paused until the deployment is loaded again.
    status.say(`Matching is paused: ${paused}. Faces are still detected and wiped; load the deployment again once the authority is fixed.`,
      { error: true, topic: 'matching-paused' });
  } else if (matchingError) {
    status.say(`Matching is paused: ${matchingError}. Faces are still detected and wiped; matching resumes when this clears.`,
      { error: true, topic: 'matching-paused' });
  } else if (attempted && status.showing('matching-paused')) {
    say('Matching resumed.');
  }
  if (auditStoreError) status.say(auditStoreError, { error: true, topic: 'audit-store' });
}

// The kiosk's events, shown. Errors of a late blind match are shown by `matched`, as a pause.
function watch(running) {
  running.addEventListener('status', ({ detail }) => showStatus(detail));
  running.addEventListener('anchor', ({ detail }) => showAnchors(detail));
  running.addEventListener('alert', ({ detail }) => {
    alertTracks.add(detail.track);
    alerts.add(detail);
  });
  running.addEventListener('faces', ({ detail }) => {
    showMatching(detail, detail.querying === 0);
    drawFaces($('overlay'), video, detail, alertTracks, $('faces-summary'));
    showCounters(detail.counters, detail.ms);
  });
  running.addEventListener('matched', ({ detail }) => showMatching(detail, true));
  running.addEventListener('disclosure', ({ detail }) => {
    alerts.update(detail);
    if (detail.material) status.say(`Alert ${detail.alert}: ${detail.material}`, { error: true, topic: 'material' });
  });
  running.addEventListener('restart', ({ detail: { unreviewed } }) => {
    unreviewed.forEach((id) => alerts.remove(id));
    const lost = unreviewed.length > 0
      ? ` Alert${unreviewed.length > 1 ? 's' : ''} ${unreviewed.join(', ')}, raised before it stopped, can no longer be reviewed here: the audit log keeps ${unreviewed.length > 1 ? 'them' : 'it'} without a review.`
      : '';
    say(`The face engine was restarted after an internal error; the audit log continues.${lost}`);
  });
  running.addEventListener('error', ({ detail }) => {
    if (detail.request !== 'match') refused(detail);
  });
}

// Starts the kiosk (continuing the stored audit log, or a new one after `archived`); the camera
// can start once it runs.
async function startKiosk(archived) {
  const config = await readKioskConfig();
  try {
    kiosk = await createKiosk({
      ...config,
      archived,
      onProgress: ({ loaded, total }) => {
        if (total > 0) $('model-progress').value = loaded / total;
        say(words.progress(loaded, total));
      },
    });
  } catch (error) {
    refused(error);
    if (error.code === 'AUDIT_LOG_BROKEN' || error.code === 'AUDIT_LOG_FOREIGN') {
      logRefusal = error;
      $('archive-audit').hidden = false;
    }
    return;
  }
  watch(kiosk);
  $('model-progress').value = 1;
  showStatus(kiosk.status);
  showKioskKey();
  kiosk.anchor().then(showAnchors);
  say(archived ? 'The stored audit log was exported and a new one started. Models loaded. Press Start camera.' : 'Models loaded. Press Start camera.');
  $('start').disabled = false;
}

async function startCamera() {
  $('start').disabled = true;
  try {
    stream = await openCamera(video, () => {
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
  showEnrolment(kiosk.status, true);
  say('Camera running. Faces are processed on this device only.');
  screen.keepOn();
  kiosk.run(video).catch(refused);
}

function stopCamera() {
  closeCamera(video, stream);
  stream = null;
  $('start').disabled = false;
  $('stop').disabled = true;
  screen.release();
  showEnrolment(kiosk.status, false);
  kiosk.pause().catch(refused);
}

async function loadDeployment() {
  let deployment;
  try {
    deployment = await readDeployment(kiosk.kioskPublicKey);
  } catch (error) {
    if (error instanceof FormProblem) return say(error.message, true);
    throw error;
  }
  const authority = deployment.custody.kind === 'authority' ? deployment.custody.url : null;
  if (authority) say(`Watchlist verified here; checking that the authority at ${authority} holds its key…`);
  if (deployment.custody.kind === 'sealed') say(`Verifying the sealed deployment of the authority at ${deployment.custody.url}…`);
  return kiosk.loadDeployment(deployment).then(() => {
    // The kiosk holds the key now: no page script can read it from the form any more.
    $('prf-key').value = '';
    say(deployment.custody.kind === 'sealed'
      ? 'Sealed deployment loaded and verified. Matching is on: each face goes to the authority encrypted under a key only this kiosk holds.'
      : 'Watchlist loaded and verified. Matching is on.');
    showChart(kiosk.operatingPointChart);
  }, (error) => {
    refused(error);
    focusFieldFor(error.code);
  });
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
$('enrol').addEventListener('click', () => {
  if (!stream || !hasFrame(video)) return say('Start the camera first.', true);
  const label = $('enrol-name').value;
  kiosk.enrol(video, label).then((count) => {
    say(`${label} enrolled (${count} in the demonstration watchlist). Step away and come back: the kiosk should alert.`);
    showChart(kiosk.operatingPointChart);
  }, refused);
});
$('load-form').addEventListener('submit', (event) => {
  event.preventDefault();
  loadDeployment();
});
// The exports read what is stored on the device, so they work even when the kiosk cannot start.
$('export-audit').addEventListener('click', () => storedAudit().then(({ log }) => downloadAudit(log, 'veilwatch-audit.jsonl'), refused));
$('export-anchors').addEventListener('click', () => (kiosk ? kiosk.anchor() : Promise.resolve())
  .then(storedAudit)
  .then(({ heads }) => downloadAudit(heads, 'veilwatch-audit-anchors.jsonl'), refused));
$('create-kiosk-key').addEventListener('click', () => kiosk.kioskKey().then(() => {
  showKioskKey();
  say('Kiosk key created. Register its public key with the issuer; the audit log is now signed with it.');
}, (error) => say(`The kiosk key could not be created: ${error.message}`, true)));
// A stored log that cannot be continued stops the kiosk. Only the operator can move on: the log and
// its signed heads are exported as they are, removed, and the new log's first lines say why.
$('archive-audit').addEventListener('click', async () => {
  const archived = await archiveAuditLog(logRefusal).catch(refused);
  if (!archived) return;
  downloadAudit(archived.log, 'veilwatch-audit-archived.jsonl');
  downloadAudit(archived.heads, 'veilwatch-audit-archived-anchors.jsonl');
  $('archive-audit').hidden = true;
  startKiosk(archived);
});

startKiosk();
// Cache the application so the kiosk keeps working if its server or the network goes away.
navigator.serviceWorker?.register('/sw.js').catch((error) => {
  console.warn(`offline cache unavailable: ${error.message}`);
});
