// Keeps the kiosk working when its server or the network goes away: every same-origin GET is
// fetched from the network when possible and from this cache otherwise. The cache holds only the
// application (pages, scripts, the wasm engine, the two models) — never a frame, a face or a result.

const CACHE = 'veilwatch-app-v8';
const APP = [
  '/', '/index.html', '/kiosk.js', '/kiosk-worker.js', '/detect-worker.js', '/style.css', '/favicon.svg', '/notice.html', '/notice.js',
  '/kiosk/alerts-panel.js', '/kiosk/audit-anchors.js', '/kiosk/authority-client.js', '/kiosk/audit-store.js', '/kiosk/camera.js', '/kiosk/engine-client.js', '/kiosk/kiosk-key.js', '/kiosk/notice-channel.js', '/kiosk/operator-panel.js', '/kiosk/overlay.js',
  '/kiosk/problems.js', '/kiosk/screen.js', '/kiosk/status-line.js', '/kiosk/status-panel.js', '/api/create-kiosk.js', '/api/element-messages.js', '/api/error-messages.js',
  '/pkg/veilwatch.js', '/pkg/veilwatch_bg.wasm', '/pkg/veilwatch_relaxed_bg.wasm', '/pkg/engine-wasm.js',
  '/models/face_detection_yunet_2023mar_int8bq.onnx', '/models/face_recognition_sface_2021dec_int8bq.onnx',
];

self.addEventListener('install', (event) => {
  event.waitUntil(caches.open(CACHE).then((cache) => cache.addAll(APP)).then(() => self.skipWaiting()));
});

self.addEventListener('activate', (event) => {
  event.waitUntil(
    caches.keys()
      .then((keys) => Promise.all(keys.filter((k) => k !== CACHE).map((k) => caches.delete(k))))
      .then(() => self.clients.claim()),
  );
});

self.addEventListener('fetch', (event) => {
  const url = new URL(event.request.url);
  // The deployment's files are not the application's, except the overseer's key: it is the kiosk's
  // configuration, and a kiosk restarted offline must keep requiring the overseer's co-signature.
  const deploymentFile = url.pathname.startsWith('/deployment/') && url.pathname !== '/deployment/overseer.pub';
  if (event.request.method !== 'GET' || url.origin !== self.location.origin || deploymentFile) return;
  event.respondWith(
    fetch(event.request)
      .then((response) => {
        if (response.ok) {
          const copy = response.clone();
          caches.open(CACHE).then((cache) => cache.put(event.request, copy));
        }
        return response;
      })
      .catch(() => caches.match(event.request, { ignoreSearch: true }).then((hit) => hit ?? Response.error())),
  );
});
