// The kiosk page: camera in, tracked boxes and alerts out. The page only moves frames to the
// Worker (transferable ImageBitmaps, one in flight so a slow laptop drops frames rather than queue
// them), draws what comes back, and carries reviewers' decisions to the engine.

const $ = (id) => document.getElementById(id);
const overlay = $('overlay');
const ctx = overlay.getContext('2d');
const video = $('camera');
const worker = new Worker('kiosk-worker.js', { type: 'module' });

let stream = null;
let running = false;
let inFlight = false;
let alertTracks = new Set();

function say(text, isError = false) {
  $('status').textContent = text;
  $('status').classList.toggle('error', isError);
}

function cameraProblem(error) {
  switch (error?.name) {
    case 'NotAllowedError':
    case 'SecurityError':
      return 'Camera permission was refused. Allow camera access for this page in the browser settings, then press Start camera again.';
    case 'NotFoundError':
    case 'OverconstrainedError':
      return 'No camera was found. Connect a camera, then press Start camera again.';
    case 'NotReadableError':
      return 'The camera is busy or not working (another program may be using it). Close that program, then press Start camera again.';
    default:
      return `The camera could not be started: ${error?.message ?? error}.`;
  }
}

function showStatus(status) {
  if (!status) return;
  if (!status.matching) {
    $('watchlist-status').textContent = 'No watchlist loaded: faces are detected and counted, nothing is matched.';
    $('false-alerts').textContent = '';
    $('group-rates').textContent = '';
    return;
  }
  const hours = Math.max(0, status.secondsLeft / 3600);
  const left = hours >= 48 ? `${Math.floor(hours / 24)} days` : `${hours.toFixed(1)} hours`;
  $('watchlist-status').textContent =
    `${status.entries} ${status.entries === 1 ? 'entry' : 'entries'} · custody ${status.custody} (${status.custodyNote}) · ` +
    `threshold ${status.threshold} of ${status.tables} tables · valid until ${status.validUntil} (${left} left)`;
  $('false-alerts').textContent = status.expectedFalseAlertsPer1000 == null
    ? 'Expected false alerts: not measured for these settings.'
    : `Expected false alerts per 1 000 passers-by at this watchlist size and threshold: ${status.expectedFalseAlertsPer1000.toFixed(2)}`;
  $('group-rates').textContent = status.groupRates
    ? 'Measured at this threshold (LFW): ' + status.groupRates.map((g) =>
      `${g.group}: false match 1 in ${Math.round(1 / g.fmr).toLocaleString('en-GB')}, missed match ${(100 * g.fnmr).toFixed(1)}% (${g.identities} people)`).join(' · ')
    : 'Per-group error rates: not measured for these settings.';
}

async function startCamera() {
  $('start').disabled = true;
  try {
    if (!navigator.mediaDevices?.getUserMedia) throw Object.assign(new Error('this browser offers no camera access'), { name: 'NotFoundError' });
    stream = await navigator.mediaDevices.getUserMedia({ video: { width: { ideal: 640 }, height: { ideal: 480 } }, audio: false });
  } catch (error) {
    say(cameraProblem(error), true);
    $('start').disabled = false;
    return;
  }
  for (const track of stream.getVideoTracks()) {
    track.addEventListener('ended', () => {
      stopCamera();
      say('The camera stopped (was it unplugged?). Reconnect it, then press Start camera again.', true);
    });
  }
  video.srcObject = stream;
  await video.play();
  overlay.width = video.videoWidth;
  overlay.height = video.videoHeight;
  running = true;
  $('stop').disabled = false;
  $('enrol').disabled = false;
  say('Camera running. Faces are processed on this device only.');
  requestAnimationFrame(pump);
}

function stopCamera() {
  running = false;
  stream?.getTracks().forEach((t) => t.stop());
  stream = null;
  video.srcObject = null;
  $('start').disabled = false;
  $('stop').disabled = true;
  $('enrol').disabled = true;
  worker.postMessage({ type: 'stop' });
}

async function grab() {
  return createImageBitmap(video);
}

async function pump() {
  if (!running) return;
  if (!inFlight && video.readyState >= 2) {
    inFlight = true;
    try {
      const bitmap = await grab();
      worker.postMessage({ type: 'frame', bitmap, t: Date.now() }, [bitmap]);
    } catch (error) {
      inFlight = false;
      say(`A camera frame could not be read: ${error.message}`, true);
    }
  }
  requestAnimationFrame(pump);
}

function draw({ faces, width, height }) {
  if (overlay.width !== width || overlay.height !== height) {
    overlay.width = width;
    overlay.height = height;
  }
  ctx.drawImage(video, 0, 0, width, height);
  ctx.lineWidth = 3;
  ctx.font = '600 16px system-ui, sans-serif';
  for (const face of faces) {
    const [x, y, w, h] = face.box;
    const alerted = alertTracks.has(face.track);
    const gated = face.quality.rejections.length > 0;
    const colour = alerted ? '#ff3b30' : gated ? '#9aa0a6' : '#ffd400';
    const label = alerted ? `track ${face.track} · ALERT, awaiting review` : gated ? `track ${face.track} · not matched (${face.quality.rejections.join(', ').replaceAll('_', ' ')})` : `track ${face.track}`;
    ctx.setLineDash(gated ? [8, 6] : []);
    ctx.strokeStyle = colour;
    ctx.strokeRect(x, y, w, h);
    ctx.setLineDash([]);
    const tw = ctx.measureText(label).width + 10;
    ctx.fillStyle = colour;
    ctx.fillRect(x, Math.max(0, y - 22), tw, 22);
    ctx.fillStyle = '#000';
    ctx.fillText(label, x + 5, Math.max(16, y - 6));
  }
  $('faces-summary').textContent = faces.length === 0 ? 'No face in view.' : `${faces.length} face${faces.length > 1 ? 's' : ''} in view.`;
}

function showCounters(c, ms) {
  $('processed-line').textContent = `faces processed ${c.faces_processed} · retained ${c.retained}`;
  $('frames').textContent = c.frames;
  $('faces-processed').textContent = c.faces_processed;
  $('retained').textContent = c.retained;
  $('rejected').textContent = c.faces_rejected;
  $('attempts').textContent = c.match_attempts;
  $('alert-count').textContent = c.alerts;
  if (ms !== undefined) $('frame-ms').textContent = `${ms.toFixed(0)} ms`;
}

function hexToBytes(hex) {
  const out = new Uint8Array(hex.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(hex.substr(2 * i, 2), 16);
  return out;
}

function addAlert(alert) {
  alertTracks.add(alert.track);
  $('no-alerts').hidden = true;
  const item = document.createElement('li');
  item.className = 'alert';
  item.dataset.alert = alert.id;
  const faces = document.createElement('div');
  faces.className = 'faces';
  const probe = document.createElement('canvas');
  probe.width = 112;
  probe.height = 112;
  probe.setAttribute('aria-label', 'Face seen by the camera');
  probe.getContext('2d').putImageData(new ImageData(alert.probe, 112, 112), 0, 0);
  const probeFigure = document.createElement('figure');
  probeFigure.append(probe, Object.assign(document.createElement('figcaption'), { textContent: 'Seen now' }));
  const refFigure = document.createElement('figure');
  if (alert.record.photo_jpeg_hex) {
    const img = document.createElement('img');
    const url = URL.createObjectURL(new Blob([hexToBytes(alert.record.photo_jpeg_hex)], { type: 'image/jpeg' }));
    img.src = url;
    img.alt = `Reference photo of ${alert.record.label}`;
    img.width = 112;
    img.height = 112;
    item.dataset.photoUrl = url;
    refFigure.append(img);
  }
  refFigure.append(Object.assign(document.createElement('figcaption'), { textContent: 'Watchlist photo' }));
  faces.append(probeFigure, refFigure);
  const text = document.createElement('p');
  text.textContent = `Alert ${alert.id}: ${alert.record.label} (${alert.record.reference_id}, ${alert.record.category}) — ` +
    `${alert.collisions} of ${alert.tables} tables agree (implied similarity ${alert.impliedCosine.toFixed(2)}). Source: ${alert.record.source}.`;
  const buttons = document.createElement('div');
  buttons.className = 'review';
  for (const [decision, label] of [['confirm', 'Confirm match'], ['reject', 'Reject'], ['unsure', 'Unsure']]) {
    const b = document.createElement('button');
    b.type = 'button';
    b.textContent = label;
    b.dataset.decision = decision;
    b.addEventListener('click', () => {
      const reviewer = $('reviewer').value.trim();
      if (!reviewer) {
        say('Enter the reviewer name before deciding on an alert.', true);
        $('reviewer').focus();
        return;
      }
      worker.postMessage({ type: 'review', id: alert.id, decision, reviewer });
    });
    buttons.append(b);
  }
  item.append(faces, text, buttons);
  $('alert-list').append(item);
}

function removeAlert(id, decision) {
  const item = document.querySelector(`li.alert[data-alert="${id}"]`);
  if (!item) return;
  // Wipe the probe crop before letting go of it.
  const probe = item.querySelector('canvas');
  probe?.getContext('2d').clearRect(0, 0, probe.width, probe.height);
  if (item.dataset.photoUrl) URL.revokeObjectURL(item.dataset.photoUrl);
  item.remove();
  $('no-alerts').hidden = $('alert-list').children.length > 0;
  say(`Alert ${id} reviewed: ${decision}. Recorded in the audit log.`);
}

worker.onmessage = ({ data }) => {
  switch (data.type) {
    case 'ready':
      say('Models loaded. Press Start camera.');
      $('start').disabled = false;
      showStatus(data.status);
      break;
    case 'result':
      inFlight = false;
      if (data.matchingError) say(`Matching is paused: ${data.matchingError}. Faces are still detected and wiped; matching resumes when this clears.`, true);
      else if ($('status').textContent.startsWith('Matching is paused')) say('Matching resumed.');
      data.alerts.forEach(addAlert);
      draw(data);
      showCounters(data.counters, data.ms);
      showStatus(data.status);
      break;
    case 'enrolled':
      say(`${data.label} enrolled (${data.count} in the demonstration watchlist). Step away and come back: the kiosk should alert.`);
      showStatus(data.status);
      break;
    case 'loaded':
      say('Watchlist loaded and verified. Matching is on.');
      showStatus(data.status);
      break;
    case 'reviewed':
      removeAlert(data.id, data.decision);
      showStatus(data.status);
      break;
    case 'audit': {
      const url = URL.createObjectURL(new Blob([data.text], { type: 'application/x-ndjson' }));
      const a = Object.assign(document.createElement('a'), { href: url, download: 'veilwatch-audit.jsonl' });
      a.click();
      setTimeout(() => URL.revokeObjectURL(url), 10_000);
      break;
    }
    case 'stopped':
      showStatus(data.status);
      break;
    case 'error':
      if (data.request === 'frame') {
        inFlight = false;
        if (/expired|not valid before/.test(data.message)) say(`Matching stopped: ${data.message}`, true);
        else say(`A frame could not be processed: ${data.message}`, true);
      } else if (data.request === 'load') {
        say(`The watchlist was refused: ${data.message}. The kiosk keeps running without it.`, true);
      } else if (data.request === 'enrol') {
        say(`Enrolment failed: ${data.message}`, true);
      } else if (data.request === 'review') {
        say(`The review was not recorded: ${data.message}`, true);
      } else {
        say(`The kiosk could not start: ${data.message}. Reload the page.`, true);
      }
      break;
    default:
      break;
  }
};
worker.onerror = (event) => say(`The engine worker could not start: ${event.message ?? 'unknown error'}. Reload the page.`, true);

$('start').addEventListener('click', startCamera);
$('stop').addEventListener('click', () => {
  stopCamera();
  say('Camera stopped. Tracks ended and their data wiped.');
});
$('enrol').addEventListener('click', async () => {
  if (!running || video.readyState < 2) return say('Start the camera first.', true);
  const bitmap = await grab();
  worker.postMessage({ type: 'enrol', bitmap, label: $('enrol-name').value }, [bitmap]);
});
$('load-form').addEventListener('submit', async (event) => {
  event.preventDefault();
  const file = $('watchlist-file').files[0];
  if (!file) return say('Choose a watchlist file first.', true);
  const profileFile = $('profile-file').files[0];
  worker.postMessage({
    type: 'load',
    watchlist: await file.arrayBuffer(),
    profile: profileFile ? await profileFile.text() : null,
    issuer: $('issuer-key').value,
    prfKey: $('prf-key').value,
    authority: $('authority-url').value.trim(),
  });
});
$('export-audit').addEventListener('click', () => worker.postMessage({ type: 'audit' }));
worker.postMessage({ type: 'start' });
// Cache the application so the kiosk keeps working if its server or the network goes away.
navigator.serviceWorker?.register('/sw.js').catch((error) => {
  console.warn(`offline cache unavailable: ${error.message}`);
});
