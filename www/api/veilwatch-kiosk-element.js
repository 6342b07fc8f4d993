// <veilwatch-kiosk>: the kiosk as one drop-in element, in one of two modes.
//
// mode="inline" (default): the kiosk runs in the page that embeds it, its engine in a Worker
// through createKiosk (api/create-kiosk.js); for demonstrations and for pages that are themselves
// the kiosk's origin. Everything it shows lives in its shadow root (no page-wide id, no page-wide
// CSS; the page styles it through ::part(): start, stop, fullscreen, progress, status, announce
// (errors and new alerts, an assertive live region), stage, overlay, summary). Attributes:
// `base-url` (where the package's files are served; default: beside this module), `models-url`
// (the models' folder; default: models/ under base-url), `lang` (en or cy: its words, and every
// error in the message catalogue's sentence for its code, api/error-messages.js; the engine's
// English specifics follow as a detail marked lang="en"). While the camera runs the screen is kept
// on (Wake Lock); "Full screen" shows the element alone, for an unattended screen. Events (bubbling,
// composed): `progress` {loaded, total}, `ready` {status}, `faces` (FrameResult), `alert`
// (AlertView), `status` (KioskStatus), `disclosure`, `error` (a VeilwatchError, with its `code`).
//
// mode="isolated": the element frames `kiosk-url` (api/isolated-kiosk.html on the Veilwatch
// origin, served with `veilwatch serve --frame-ancestors PORTAL_ORIGIN`) with allow="camera", as
// payment providers frame card fields: the kiosk key, the audit log, the PRF key, frames and crops
// live only in that origin. The element accepts messages only from that frame's window and origin,
// and re-emits them with no biometric content: `progress` {loaded, total}, `ready` {status},
// `faces` {faces, tracks}, `alert` {alert, track}, `status` {matching, pendingReviews}, `error`
// {code, message}.

import { ISOLATED_PROTOCOL } from './isolated-protocol.js';

import { cameraErrorCode } from '../kiosk/camera.js';
import { EngineError } from '../kiosk/engine-client.js';
import { drawFaces } from '../kiosk/overlay.js';
import { screenKeeper, toggleFullscreen } from '../kiosk/screen.js';
import { createKiosk, isVeilwatchError } from './create-kiosk.js';
import { MESSAGES, messagesFor } from './element-messages.js';
import { errorMessage } from './error-messages.js';

/** The events an isolated kiosk may send. */
const ISOLATED_EVENTS = new Set(['progress', 'ready', 'faces', 'alert', 'status', 'error']);

// Adopted, not a <style> element, so that a page whose CSP has no 'unsafe-inline' styles it too.
const STYLE = `
:host { display: block; font: 1rem/1.4 system-ui, sans-serif; }
[part~="stage"] { position: relative; }
video { display: none; }
canvas { max-width: 100%; height: auto; background: #222; }
[part~="announce"]:empty { display: none; }
[part~="announce"] { color: #8b0000; font-weight: 600; }
[part~="detail"] { display: block; font-weight: normal; }
:host(:fullscreen) { background: Canvas; color: CanvasText; padding: 1rem; font-size: 1.5rem; }
:host(:fullscreen) canvas { width: 100%; }
button { font: inherit; padding: 0.5em 1em; }
iframe { border: 0; width: 100%; min-height: 40rem; }
`;

// Errors go to an assertive live region (role=alert), news to a polite one (role=status).
const PARTS = `
<div part="controls">
  <button part="start" type="button" disabled></button>
  <button part="stop" type="button" disabled></button>
  <button part="fullscreen" type="button"></button>
  <progress part="progress" max="1" value="0"></progress>
  <p part="status" role="status" aria-live="polite"></p>
  <p part="announce" role="alert"></p>
</div>
<div part="stage">
  <video playsinline muted></video>
  <canvas part="overlay" width="640" height="480"></canvas>
  <p part="summary" aria-live="polite"></p>
</div>`;

export class VeilwatchKioskElement extends HTMLElement {
  #kiosk = null;
  #alertTracks = new Set();
  #starting = null;
  /** Keeps the screen on while the camera runs (an unattended kiosk must not go dark). */
  #screen = screenKeeper();
  #words = MESSAGES.en;
  #lang = 'en';

  constructor() {
    super();
    const root = this.attachShadow({ mode: 'open' });
    const sheet = new CSSStyleSheet();
    sheet.replaceSync(STYLE);
    root.adoptedStyleSheets = [sheet];
    root.innerHTML = PARTS;
    const video = root.querySelector('video');
    this.#part('start').addEventListener('click', () => this.#run(video));
    this.#part('stop').addEventListener('click', () => this.#halt(video));
    this.#part('fullscreen').addEventListener('click', () => toggleFullscreen(this).catch((error) => this.#say(error.message)));
  }

  // The element's words in its language (`lang`, else the document's).
  #label() {
    this.#lang = this.closest('[lang]')?.lang || document.documentElement.lang;
    this.#words = messagesFor(this.#lang);
    for (const name of ['start', 'stop', 'fullscreen']) this.#part(name).textContent = this.#words[name];
    this.#part('progress').setAttribute('aria-label', this.#words.modelsLabel);
    this.#part('summary').textContent = this.#words.noFaces;
    this.#say(this.#words.loading);
  }

  #part(name) {
    return this.shadowRoot.querySelector(`[part~="${name}"]`);
  }

  #emit(type, detail) {
    this.dispatchEvent(new CustomEvent(type, { detail, bubbles: true, composed: true }));
  }

  #say(text) {
    this.#part('status').textContent = text;
  }

  // In the assertive region: the catalogue's sentence for the error's code in the element's
  // language, then the engine's own (English) message, which has the specifics.
  #fail(error) {
    const shown = this.#part('announce');
    if (shown) {
      const code = typeof error?.code === 'string' ? error.code : cameraErrorCode(error);
      shown.replaceChildren(errorMessage(code, this.#lang));
      if (isVeilwatchError(error) && error.message) {
        const detail = Object.assign(document.createElement('span'), { lang: 'en', textContent: error.message });
        detail.setAttribute('part', 'detail');
        shown.append(' ', detail);
      }
    }
    this.#emit('error', error);
  }

  /** The running kiosk (a VeilwatchKiosk) once the models are loaded, else null. */
  get kiosk() {
    return this.#kiosk;
  }

  connectedCallback() {
    this.#label();
    if (this.getAttribute('mode') === 'isolated') this.#starting ??= this.#frame();
    else this.#starting ??= this.#start();
  }

  // Isolated mode: the kiosk in a cross-origin frame; only its well-formed messages get through.
  async #frame() {
    // No attribute is an error, not this page's own URL (which '' would resolve to).
    let kioskUrl = null;
    try {
      if (this.getAttribute('kiosk-url')) kioskUrl = new URL(this.getAttribute('kiosk-url'), location.href);
    } catch {
      kioskUrl = null;
    }
    if (!kioskUrl || !/^https?:$/.test(kioskUrl.protocol)) {
      return this.#fail(new EngineError({ request: 'start', code: 'OPTIONS_INVALID', message: 'mode="isolated" needs kiosk-url, the kiosk page on the Veilwatch origin' }));
    }
    kioskUrl.searchParams.set('portal', location.origin);
    const frame = document.createElement('iframe');
    frame.setAttribute('part', 'frame');
    frame.allow = 'camera; fullscreen; screen-wake-lock';
    frame.title = 'Veilwatch kiosk';
    frame.src = kioskUrl.href;
    this.shadowRoot.replaceChildren(frame);
    window.addEventListener('message', (event) => {
      if (event.origin !== kioskUrl.origin || event.source !== frame.contentWindow) return;
      const { protocol, type, detail } = event.data ?? {};
      if (protocol !== ISOLATED_PROTOCOL || !ISOLATED_EVENTS.has(type)) return;
      this.#emit(type, detail);
    });
  }

  disconnectedCallback() {
    this.#kiosk?.stop();
    this.#kiosk = null;
    this.#starting = null;
  }

  async #start() {
    const progress = this.#part('progress');
    try {
      this.#kiosk = await createKiosk({
        baseUrl: this.getAttribute('base-url') ?? undefined,
        modelsUrl: this.getAttribute('models-url') ?? undefined,
        onProgress: ({ loaded, total }) => {
          if (total > 0) progress.value = loaded / total;
          this.#say(this.#words.progress(loaded, total));
          this.#emit('progress', { loaded, total });
        },
      });
    } catch (error) {
      this.#say(this.#words.notStarted);
      return this.#fail(error);
    }
    progress.value = 1;
    const kiosk = this.#kiosk;
    const video = this.shadowRoot.querySelector('video');
    kiosk.addEventListener('faces', ({ detail }) => {
      drawFaces(this.#part('overlay'), video, detail, this.#alertTracks, this.#part('summary'));
      this.#emit('faces', detail);
    });
    kiosk.addEventListener('alert', ({ detail }) => {
      this.#alertTracks.add(detail.track);
      // Announced at once (role=alert): a new alert is what the reviewer must not miss.
      this.#part('announce').textContent = this.#words.alert(detail.track);
      this.#emit('alert', detail);
    });
    for (const type of ['status', 'disclosure']) kiosk.addEventListener(type, ({ detail }) => this.#emit(type, detail));
    kiosk.addEventListener('error', ({ detail }) => this.#fail(detail));
    this.#part('start').disabled = false;
    this.#say(this.#words.ready);
    this.#emit('ready', { status: kiosk.status });
  }

  async #run(video) {
    const [start, stop] = [this.#part('start'), this.#part('stop')];
    start.disabled = true;
    this.#part('announce').textContent = '';
    try {
      const stream = await navigator.mediaDevices.getUserMedia({ video: { width: { ideal: 640 }, height: { ideal: 480 } }, audio: false });
      video.srcObject = stream;
      await video.play();
      await this.#kiosk.run(video);
    } catch (error) {
      start.disabled = false;
      return this.#fail(error);
    }
    stop.disabled = false;
    this.#say(this.#words.running);
    await this.#screen.keepOn();
  }

  async #halt(video) {
    video.srcObject?.getTracks().forEach((track) => track.stop());
    video.srcObject = null;
    // A kiosk that stopped cannot restart; a new one loads the (cached) models again.
    await this.#kiosk?.stop();
    this.#kiosk = null;
    this.#part('stop').disabled = true;
    this.#screen.release();
    this.#say(this.#words.stopped);
    this.#starting = this.#start();
  }
}

/** Defines <veilwatch-kiosk> (once). */
export function defineVeilwatchKiosk(name = 'veilwatch-kiosk') {
  if (!customElements.get(name)) customElements.define(name, VeilwatchKioskElement);
}
