// The kiosk page: camera in, tracked boxes and alerts out. This module only wires the parts in
// kiosk/: the engine Worker's client, the camera, the views, and the one state object below. The
// page moves frames to the Worker (transferable ImageBitmaps, one in flight, so a slow laptop drops
// frames rather than queue them), draws what comes back, and carries reviewers' decisions back.

import { alertsPanel } from './kiosk/alerts-panel.js';
import { cameraProblem, closeCamera, grabFrame, hasFrame, openCamera, pumpFrames } from './kiosk/camera.js';
import { EngineClient } from './kiosk/engine-client.js';
import { downloadAudit, focusFieldFor, FormProblem, readDeployment } from './kiosk/operator-panel.js';
import { drawFaces } from './kiosk/overlay.js';
import { explain } from './kiosk/problems.js';
import { statusLine } from './kiosk/status-line.js';
import { showChart, showCounters, showWatchlist } from './kiosk/status-panel.js';

const $ = (id) => document.getElementById(id);
const video = $('camera');

/** Everything on this page that changes. */
const state = {
  /** The camera's stream while it runs, else null. */
  stream: null,
  /** A frame is with the engine; the next one waits for its reply. */
  frameInFlight: false,
  /** Tracks that raised an alert, drawn as alerts. */
  alertTracks: new Set(),
};

const engine = new EngineClient(new URL('kiosk-worker.js', import.meta.url));
const status = statusLine($('status'));
const say = (text, error = false) => status.say(text, { error });
const refused = (error) => say(explain(error), true);
const alerts = alertsPanel({
  say: status.say,
  onDecide: (id, decision, reviewer) => engine.review(id, decision, reviewer).then((reply) => {
    if (alerts.remove(reply.alert)) say(`Alert ${reply.alert} reviewed: ${reply.decision}. Recorded in the audit log.`);
    showWatchlist(reply.status);
  }, refused),
});

// What a blind match led to: alerts, or why matching is paused. `attempted`: whether a match
// finished here (a frame that only sent queries to the authority has not finished one).
function showMatches(result, attempted) {
  if (result.matchingError) {
    status.say(`Matching is paused: ${result.matchingError}. Faces are still detected and wiped; matching resumes when this clears.`,
      { error: true, topic: 'matching-paused' });
  } else if (attempted && status.showing('matching-paused')) {
    say('Matching resumed.');
  }
  for (const alert of result.alerts) {
    state.alertTracks.add(alert.track);
    alerts.add(alert);
  }
}

engine.onMatched = (result) => {
  showMatches(result, true);
  showWatchlist(result.status);
};

function showFrame(result) {
  showMatches(result, result.querying === 0);
  drawFaces($('overlay'), video, result, state.alertTracks, $('faces-summary'));
  showCounters(result.counters, result.ms);
  showWatchlist(result.status);
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
  $('enrol').disabled = false;
  say('Camera running. Faces are processed on this device only.');
  pumpFrames(video, state, (bitmap) => engine.processFrame(bitmap, Date.now()).then(showFrame, refused),
    (error) => say(`A camera frame could not be read: ${error.message}`, true));
}

function stopCamera() {
  closeCamera(video, state.stream);
  state.stream = null;
  $('start').disabled = false;
  $('stop').disabled = true;
  $('enrol').disabled = true;
  engine.stop().then((reply) => showWatchlist(reply.status), refused);
}

$('start').addEventListener('click', startCamera);
$('stop').addEventListener('click', () => {
  stopCamera();
  say('Camera stopped. Tracks ended and their data wiped.');
});
$('enrol').addEventListener('click', async () => {
  if (!state.stream || !hasFrame(video)) return say('Start the camera first.', true);
  const label = $('enrol-name').value;
  engine.enrol(await grabFrame(video), label).then((reply) => {
    say(`${reply.label} enrolled (${reply.count} in the demonstration watchlist). Step away and come back: the kiosk should alert.`);
    showWatchlist(reply.status);
    showChart(reply.chart);
  }, refused);
});
$('load-form').addEventListener('submit', async (event) => {
  event.preventDefault();
  let deployment;
  try {
    deployment = await readDeployment();
  } catch (error) {
    if (error instanceof FormProblem) return say(error.message, true);
    throw error;
  }
  engine.loadWatchlist(deployment).then((reply) => {
    say('Watchlist loaded and verified. Matching is on.');
    showWatchlist(reply.status);
    showChart(reply.chart);
  }, (error) => {
    refused(error);
    focusFieldFor(error.code);
  });
});
$('export-audit').addEventListener('click', () => engine.auditLog().then((reply) => downloadAudit(reply.text), refused));

engine.start().then((reply) => {
  say('Models loaded. Press Start camera.');
  $('start').disabled = false;
  showWatchlist(reply.status);
}, refused);
// Cache the application so the kiosk keeps working if its server or the network goes away.
navigator.serviceWorker?.register('/sw.js').catch((error) => {
  console.warn(`offline cache unavailable: ${error.message}`);
});
