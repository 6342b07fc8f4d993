// The page's side of the engine Worker (www/kiosk-worker.js) and, by default, of the detection
// Worker (www/detect-worker.js) beside it: every call is one request and one reply, matched by id.
// With both Workers, a frame goes to the detection Worker, which passes it on to the engine Worker
// (through a MessageChannel this client sets up at `start`), and the reply comes from there; the
// two run on two cores, so up to `pipelineDepth` (2) frames may be in flight. A refusal becomes a rejected promise carrying an EngineError whose `code`
// is the engine's stable error code, so callers decide what to say by code, never by reading the
// message. No DOM here.

/** A request the engine refused or could not carry out. */
export class EngineError extends Error {
  /**
   * @param {{request: string, code: string, message: string, fatal?: boolean}} reply the Worker's error reply
   */
  constructor({ request, code, message, fatal }) {
    super(message);
    this.name = 'EngineError';
    /** Which request failed: start, frame, enrol, load, review, audit, head, bindKey or stop. */
    this.request = request;
    /** The stable code, e.g. WATCHLIST_EXPIRED (see pkg/veilwatch.d.ts and www/kiosk-worker.js). */
    this.code = code;
    /** The engine stopped (its wasm instance trapped): this Worker is done, start a new one. */
    this.fatal = fatal === true;
  }
}

export class EngineClient {
  #worker;
  /** The detection Worker, or null when the engine Worker detects too. */
  #detector = null;
  #pending = new Map();
  #nextId = 1;

  /** Set once the Worker itself cannot run: every request is rejected with it from then on. */
  #broken = null;

  /**
   * Called with `{alerts, counters, matchingError?, status}` when a blind match that waited for
   * the authority has finished (authority custody), outside any request.
   */
  onMatched = () => {};

  /**
   * Called with `{alert, record?, material?, status}` when an alert's reviewer material came from
   * the authority (`record`) or could not (`material` says why), outside any request.
   */
  onDisclosed = () => {};

  /**
   * Called with `{loaded, total}` (bytes over both models; `total` 0 if unknown) while `start`
   * downloads the models.
   */
  onProgress = () => {};

  /**
   * Starts the engine Worker at `url` and, unless `pipelined` is false, the detection Worker
   * (detect-worker.js beside it). If a script cannot run, the pending requests (the first is
   * always `start`) and every later one are rejected with code WORKER_FAILED. `onFatal(error)` is
   * called once if the engine stops (a fatal EngineError): the caller then starts a new client.
   */
  constructor(url, { onFatal, pipelined = true } = {}) {
    const workerUrl = new URL(url, globalThis.location?.href);
    this.#worker = new Worker(workerUrl, { type: 'module' });
    if (pipelined) this.#detector = new Worker(new URL('detect-worker.js', workerUrl), { type: 'module' });
    let fatalReported = false;
    const onmessage = ({ data }) => {
      if (data.type === 'matched') return this.onMatched(data);
      if (data.type === 'disclosed') return this.onDisclosed(data);
      if (data.type === 'progress') return this.onProgress(data);
      const pending = this.#pending.get(data.id);
      if (!pending) return;
      this.#pending.delete(data.id);
      if (data.type !== 'error') return pending.resolve(data);
      const error = new EngineError(data);
      pending.reject(error);
      if (error.fatal && !fatalReported) {
        fatalReported = true;
        onFatal?.(error);
      }
    };
    const onerror = (event) => {
      this.#broken = new EngineError({ request: 'start', code: 'WORKER_FAILED', message: event.message ?? 'unknown error' });
      for (const { reject } of this.#pending.values()) reject(this.#broken);
      this.#pending.clear();
    };
    for (const worker of [this.#worker, this.#detector]) {
      if (!worker) continue;
      worker.onmessage = onmessage;
      worker.onerror = onerror;
    }
  }

  /** How many frames may be in flight at once: 2 with the detection Worker (one detected while the
   * other is embedded), else 1. */
  get pipelineDepth() {
    return this.#detector ? 2 : 1;
  }



  /** Sends one request and resolves with the Worker's reply (rejects with an EngineError). */
  request(type, args = {}, transfer = []) {
    return this.#send(this.#worker, type, args, transfer);
  }

  /** Sends a request to `worker` under a new id; the reply may come from either Worker (a frame
   * sent to the detection Worker is answered by the engine Worker). */
  #send(worker, type, args, transfer) {
    if (this.#broken) return Promise.reject(this.#broken);
    const id = this.#nextId++;
    return new Promise((resolve, reject) => {
      this.#pending.set(id, { resolve, reject });
      worker.postMessage({ ...args, id, type }, transfer);
    });
  }

  /**
   * Loads the engine and both models with the kiosk's configuration (`{overseerPublicKey?}`, as
   * `Kiosk.create` takes it) and continues the audit log stored on this device under `kioskKey`
   * (public hex, if the kiosk has a key), with a `restart` line carrying `restartReason` if the
   * previous engine stopped. The models come from `modelsUrl` (a folder URL ending in /; default:
   * models/ beside the Worker). Resolves with `{status, auditLines}`; rejects with AUDIT_LOG_BROKEN
   * or AUDIT_LOG_FOREIGN if the stored log cannot be continued.
   */
  start({ kioskKey, restartReason, overseerPublicKey, modelsUrl } = {}) {
    const args = { kioskKey, restartReason, overseerPublicKey, modelsUrl: modelsUrl?.toString() };
    if (!this.#detector) return this.request('start', args);
    const { port1, port2 } = new MessageChannel();
    this.#detector.postMessage({ type: 'connect', port: port1 }, [port1]);
    return this.request('start', { ...args, detectorPort: port2 }, [port2]);
  }

  /** The audit chain's head to sign. Resolves with `{head: {seq, head} | undefined}`. */
  auditHead() {
    return this.request('head');
  }

  /** Binds an audit log started without a kiosk key to `kioskKey`. Resolves with `{head}`. */
  bindKioskKey(kioskKey) {
    return this.request('bindKey', { kioskKey });
  }

  /** Ends the Worker at once (after it stopped); pending requests are never answered. */
  terminate() {
    this.#worker.terminate();
    this.#detector?.terminate();
    this.#broken = new EngineError({ request: 'start', code: 'ENGINE_STOPPED', message: 'this engine was replaced' });
    for (const { reject } of this.#pending.values()) reject(this.#broken);
    this.#pending.clear();
  }

  /**
   * Processes one camera frame (the bitmap is transferred and closed). Resolves with
   * `{faces, alerts, counters, matchingError?, querying, ms, width, height, status}`; `querying`
   * is how many blind matches went to the authority (their outcome comes to `onMatched`).
   */
  processFrame(bitmap, t) {
    return this.#send(this.#detector ?? this.#worker, 'frame', { bitmap, t }, [bitmap]);
  }

  /** Demo: enrols the face in the bitmap under `label`. Resolves with `{count, label, status}`. */
  enrol(bitmap, label) {
    return this.request('enrol', { bitmap, label }, [bitmap]);
  }

  /**
   * Loads a deployment: `{watchlist: Uint8Array, issuerKey, profile, custody, kioskPublicKey?}` as
   * `kiosk.loadWatchlist` takes it (the watchlist's buffer is transferred). Under authority custody
   * the Worker then sends the key check to the authority and resolves only once it passed (rejects
   * with WATCHLIST_WRONG_KEY, AUTHORITY_UNAVAILABLE or AUTHORITY_BAD_ANSWER otherwise, the previous
   * deployment left running). Resolves with `{status, chart}`.
   */
  loadWatchlist(deployment) {
    return this.request('load', { deployment }, [deployment.watchlist.buffer]);
  }

  /** Records a reviewer's decision on an alert. Resolves with `{alert, decision, status}`. */
  review(alert, decision, reviewer) {
    return this.request('review', { alert, decision, reviewer });
  }

  /** The audit log as JSON lines. Resolves with `{text}`. */
  auditLog() {
    return this.request('audit');
  }

  /** Ends every track and wipes its buffers. Resolves with `{status}`. */
  stop() {
    return this.request('stop');
  }
}
