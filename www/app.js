// The demo page: camera in, boxes out. The page only moves frames to the Worker (as transferable
// ImageBitmaps, one in flight at a time so a slow laptop drops frames instead of queueing them) and
// draws what comes back.

const $ = (id) => document.getElementById(id);
const status = $('status');
const overlay = $('overlay');
const ctx = overlay.getContext('2d');
const video = $('camera');
const worker = new Worker('detect-worker.js', { type: 'module' });

let stream = null;
let inFlight = false;
let running = false;
const counters = { frames: 0, faces: 0 };
const frameTimes = [];

function say(text, isError = false) {
  status.textContent = text;
  status.classList.toggle('error', isError);
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
  say('Camera running. Faces are detected on this device only.');
  requestAnimationFrame(pump);
}

function stopCamera() {
  running = false;
  stream?.getTracks().forEach((t) => t.stop());
  stream = null;
  video.srcObject = null;
  $('start').disabled = false;
  $('stop').disabled = true;
}

async function pump() {
  if (!running) return;
  if (!inFlight && video.readyState >= 2) {
    inFlight = true;
    try {
      const bitmap = await createImageBitmap(video);
      worker.postMessage({ type: 'frame', bitmap }, [bitmap]);
    } catch (error) {
      inFlight = false;
      say(`A camera frame could not be read: ${error.message}`, true);
    }
  }
  requestAnimationFrame(pump);
}

function draw({ faces, ms, width, height }) {
  if (overlay.width !== width || overlay.height !== height) {
    overlay.width = width;
    overlay.height = height;
  }
  ctx.drawImage(video, 0, 0, width, height);
  ctx.lineWidth = 3;
  ctx.font = '600 16px system-ui, sans-serif';
  faces.forEach((face, i) => {
    const [x, y, w, h] = face.box;
    const label = `face ${i + 1} · ${(face.score * 100).toFixed(0)}%`;
    ctx.strokeStyle = '#ffd400';
    ctx.strokeRect(x, y, w, h);
    const tw = ctx.measureText(label).width + 10;
    ctx.fillStyle = '#ffd400';
    ctx.fillRect(x, Math.max(0, y - 22), tw, 22);
    ctx.fillStyle = '#000';
    ctx.fillText(label, x + 5, Math.max(16, y - 6));
    ctx.fillStyle = '#ffd400';
    for (const [lx, ly] of face.landmarks) ctx.fillRect(lx - 3, ly - 3, 6, 6);
  });
  counters.frames += 1;
  counters.faces += faces.length;
  const now = performance.now();
  frameTimes.push(now);
  while (frameTimes.length && now - frameTimes[0] > 2000) frameTimes.shift();
  $('frames').textContent = counters.frames;
  $('faces-seen').textContent = counters.faces;
  $('detect-ms').textContent = `${ms.toFixed(0)} ms`;
  $('fps').textContent = (frameTimes.length / 2).toFixed(1);
  $('faces-summary').textContent = faces.length === 0 ? 'No face in view.' : `${faces.length} face${faces.length > 1 ? 's' : ''} in view.`;
}

worker.onmessage = ({ data }) => {
  if (data.type === 'ready') {
    say('Models loaded. Press Start camera.');
    $('start').disabled = false;
  } else if (data.type === 'faces') {
    inFlight = false;
    draw(data);
  } else if (data.type === 'error') {
    inFlight = false;
    say(`Face detection failed: ${data.message}`, true);
  }
};
worker.onerror = (event) => say(`The detection worker could not start: ${event.message ?? 'unknown error'}. Reload the page.`, true);

$('start').addEventListener('click', startCamera);
$('stop').addEventListener('click', () => {
  stopCamera();
  say('Camera stopped.');
});
worker.postMessage({ type: 'start' });
