// Types of api/create-kiosk.js. The engine's own types (KioskStatus, FrameResult, AlertView,
// DeploymentOptions, ErrorCode, DisclosureResult) are generated from the Rust types by wasm-bindgen
// and tsify into pkg/veilwatch.d.ts; only what this JavaScript layer adds is declared here.

import type { AlertView, AuditHead, Counters, DeploymentOptions, DisclosureResult, ErrorCode, FrameResult, KioskStatus } from '../pkg/veilwatch.js';

export type { AlertView, AuditHead, Counters, DeploymentOptions, DisclosureResult, ErrorCode, FrameResult, KioskStatus };

/** The codes this JavaScript layer adds to the engine's ErrorCode. */
export type ApiErrorCode =
  | 'WORKER_FAILED' | 'NOT_READY' | 'ENGINE_STOPPED' | 'MODEL_DOWNLOAD_FAILED' | 'INSECURE_CONTEXT'
  | 'SOURCE_INVALID' | 'CAMERA_ENDED' | 'INTERNAL' | 'AUTHORITY_REFUSED' | 'KIOSK_KEY_MISSING'
  | 'CAMERA_DENIED' | 'CAMERA_MISSING' | 'CAMERA_BUSY' | 'CAMERA_FAILED';

/** The languages of the message catalogue: English, and Welsh for UK deployments. */
export type MessageLanguage = 'en' | 'cy';

/**
 * The sentence for an error's `code`, for the people at the kiosk (what happened and what to do),
 * in `lang` (a BCP 47 tag: "cy", "cy-GB"; English for a language the catalogue does not have).
 * Every ErrorCode and ApiErrorCode has one in every MessageLanguage; an unknown code gets INTERNAL's.
 * The error's own `message` (English) keeps the specifics; show it as the detail.
 */
export declare function errorMessage(code: ErrorCode | ApiErrorCode | string, lang?: MessageLanguage | string): string;

/** A request the kiosk refused or could not carry out. Decide by `code`, never by `message`. */
export declare class VeilwatchError extends Error {
  readonly name: 'EngineError';
  /** Which request failed: start, frame, match (a blind match that waited for the authority),
   * enrol, load, review, audit, head, bindKey, stop or archive. */
  readonly request: string;
  readonly code: ErrorCode | ApiErrorCode;
  /** The engine stopped (its wasm instance trapped); create a new kiosk. */
  readonly fatal: boolean;
}

/** Whether `error` is a VeilwatchError (and so carries a stable `code`). */
export declare function isVeilwatchError(error: unknown): error is VeilwatchError;

/** A reviewer's decision on an alert. */
export type ReviewDecision = 'confirm' | 'reject' | 'unsure';

/** Model download progress, in bytes over both models; `total` is 0 while unknown. */
export interface Progress {
  loaded: number;
  total: number;
}

/** What a processed frame returns: the engine's FrameResult and what the Worker adds. */
export type KioskFrameResult = Omit<FrameResult, 'queries' | 'disclosures'> & {
  /** How many blind matches went to the authority (their alerts come later as `alert` events). */
  querying: number;
  /** Time the engine spent on this frame, in milliseconds. */
  ms: number;
  width: number;
  height: number;
  status: KioskStatus;
  /** Set when the audit lines could not be stored on this device (they are kept in memory and
   * stored with the next request that can). */
  auditStoreError?: string;
};

/** A blind match that waited for the authority has finished (authority custody); its alerts
 * came as `alert` events. `matchingError`: why it failed (matching is paused until one succeeds). */
export interface MatchOutcome {
  counters: Counters;
  matchingError?: string;
  auditStoreError?: string;
}

/** How the audit log's anchoring goes: the last head signed with the kiosk key (its `seq` and
 * UTC time; 0 and null before the first), and under authority custody how many signed heads were
 * sent to the authority's /v1/anchor and how many failed, with the last failure's reason. */
export interface AnchorCounts {
  signedSeq: number;
  signedAt: string | null;
  sent: number;
  failed: number;
  lastFailure: string | null;
}

/** The audit log and its signed heads as stored on this device, JSON lines each (what `veilwatch
 * audit verify --anchors` reads), and the log's line count. */
export interface StoredAudit {
  log: string;
  heads: string;
  lines: number;
}

/** A stored audit log that could not be continued, removed from the device by archiveAuditLog:
 * keep `log` and `heads`; `reason` opens the new log (pass this to createKiosk as `archived`). */
export interface ArchivedAuditLog extends StoredAudit {
  reason: string;
}

export interface CreateKioskOptions {
  /** Where the package's files are served (a folder URL). Default: the package folder this module
   * is served from; required when a bundler moved this module elsewhere. The Worker must be
   * same-origin with the page. */
  baseUrl?: string | URL;
  /** The folder holding the two model files of models.json (checked against their SHA-256).
   * Default: `models/` under `baseUrl`. */
  modelsUrl?: string | URL;
  /** The overseer's Ed25519 public key (64 hex digits): every profile must then be co-signed by it. */
  overseerPublicKey?: string;
  /** A deployment to load once the models are loaded. */
  deployment?: DeploymentOptions;
  /** Model download progress (again when the engine restarts after an internal error). */
  onProgress?: (progress: Progress) => void;
  /** The stored log archiveAuditLog removed: the new log's first lines say what and why. */
  archived?: ArchivedAuditLog;
}

export interface VeilwatchKioskEventMap {
  faces: CustomEvent<KioskFrameResult>;
  alert: CustomEvent<AlertView>;
  matched: CustomEvent<MatchOutcome>;
  disclosure: CustomEvent<DisclosureResult>;
  status: CustomEvent<KioskStatus>;
  anchor: CustomEvent<AnchorCounts>;
  /** A new engine continues the same audit log (with a `restart` line giving `reason`) and the
   * loaded deployment, after the previous one stopped on an internal error. `unreviewed`: the ids of
   * the stopped engine's alerts that were not reviewed; they can no longer be (their alert lines stay
   * in the log without a review), and the new engine numbers its alerts from 1 again. */
  restart: CustomEvent<{ reason: string; unreviewed: number[] }>;
  error: CustomEvent<VeilwatchError>;
}

/** Any frame the kiosk reads: an ImageBitmap is transferred and closed, the others are copied. */
export type FrameSource = ImageBitmap | VideoFrame | HTMLVideoElement | HTMLCanvasElement | OffscreenCanvas;

export declare class VeilwatchKiosk extends EventTarget {
  /** The latest status. */
  readonly status: KioskStatus;
  /** The chart (SVG) of false alerts and true matches against the threshold for the loaded or
   * demonstration watchlist; null before one. */
  readonly operatingPointChart: string | null;
  /** This device's kiosk key's public hex, or null while it has none. */
  readonly kioskPublicKey: string | null;
  addEventListener<K extends keyof VeilwatchKioskEventMap>(type: K, listener: (event: VeilwatchKioskEventMap[K]) => void, options?: boolean | AddEventListenerOptions): void;
  addEventListener(type: string, listener: EventListenerOrEventListenerObject, options?: boolean | AddEventListenerOptions): void;
  /** Processes one frame; emits `faces`, `alert` and `status`. */
  processFrame(frame: FrameSource, t?: number): Promise<KioskFrameResult>;
  /** Processes frames from a playing `<video>`, a MediaStream or the device's camera until pause() or stop(). */
  run(source?: HTMLVideoElement | MediaStream | 'camera'): Promise<boolean>;
  /** Stops the source and wipes every track; the engine and the deployment stay, for run() again. */
  pause(): Promise<KioskStatus>;
  /** Loads a deployment (its bytes are copied); resolves once it is verified. Kept in memory to be
   * loaded again if the engine restarts. */
  loadDeployment(deployment: DeploymentOptions): Promise<KioskStatus>;
  /** Demonstration mode: enrols the face in `frame`; resolves with the entry count. */
  enrol(frame: FrameSource, label: string): Promise<number>;
  /** Records a reviewer's decision on an alert. */
  review(alertId: number, decision: ReviewDecision, reviewer: string): Promise<void>;
  /** The audit log as JSON lines. */
  auditLog(): Promise<string>;
  /** The audit chain's head (what the kiosk key signs), undefined before the first line. */
  auditHead(): Promise<AuditHead | undefined>;
  /** Signs (stores, and under authority custody sends) the audit head now; resolves with the counts. */
  anchor(): Promise<AnchorCounts>;
  /** This device's kiosk key's public hex, created on first call; the audit log is bound to it. */
  kioskKey(): Promise<string>;
  /** Stops the source, wipes every track and ends the Worker. */
  stop(): Promise<void>;
}

/** The audit log and signed heads stored on this device; works when no kiosk can start. */
export declare function storedAudit(): Promise<StoredAudit>;

/** After createKiosk refused with AUDIT_LOG_BROKEN or AUDIT_LOG_FOREIGN: removes the stored log
 * and heads from the device and resolves with them (refuses any other error: OPTIONS_INVALID). */
export declare function archiveAuditLog(refusal: VeilwatchError): Promise<ArchivedAuditLog>;

/** Starts a kiosk; resolves once the models are loaded. */
export declare function createKiosk(options?: CreateKioskOptions): Promise<VeilwatchKiosk>;
