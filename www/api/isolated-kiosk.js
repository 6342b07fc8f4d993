// The kiosk's side of <veilwatch-kiosk mode="isolated">: this page runs on the Veilwatch origin,
// framed by a portal (which `veilwatch serve --frame-ancestors PORTAL` allows, and nobody else).
// The engine, the kiosk key, the audit log, the frames and the crops stay on this origin; the
// portal hears only what the events below carry (counts, track ids, status flags, error codes),
// posted to the portal's origin alone. Nothing the portal posts here is read.

import { ISOLATED_PROTOCOL } from './isolated-protocol.js';
import { defineVeilwatchKiosk } from './veilwatch-kiosk-element.js';

// The portal is the origin that frames this page: the browser's own record of it
// (location.ancestorOrigins), else the `portal` parameter, which postMessage then enforces (a
// message to the wrong origin is dropped by the browser).
const claimed = new URLSearchParams(location.search).get('portal');
const framing = location.ancestorOrigins?.[0] ?? claimed;
const portal = window.parent !== window && framing && framing === claimed ? framing : null;

const send = (type, detail) => portal && window.parent.postMessage({ protocol: ISOLATED_PROTOCOL, type, detail }, portal);

/** What the portal may know of a status: flags and counts, never the notice's or a record's content. */
const statusForPortal = (status) => ({ matching: status?.matching ?? false, pendingReviews: status?.pendingReviews ?? 0 });

defineVeilwatchKiosk();
const element = document.querySelector('veilwatch-kiosk');
element.addEventListener('progress', ({ detail: { loaded, total } }) => send('progress', { loaded, total }));
element.addEventListener('ready', ({ detail }) => send('ready', { status: statusForPortal(detail.status) }));
element.addEventListener('faces', ({ detail }) => send('faces', { faces: detail.faces.length, tracks: detail.faces.map((f) => f.track) }));
element.addEventListener('alert', ({ detail }) => send('alert', { alert: detail.id, track: detail.track }));
element.addEventListener('status', ({ detail }) => send('status', statusForPortal(detail)));
element.addEventListener('error', ({ detail }) => send('error', { code: typeof detail?.code === 'string' ? detail.code : 'INTERNAL', message: String(detail?.message ?? detail) }));
