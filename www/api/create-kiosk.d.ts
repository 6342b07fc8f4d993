// Types of api/create-kiosk.js. The engine's own types (KioskStatus, FrameResult, AlertView,
// DeploymentOptions, ErrorCode, DisclosureResult) are generated from the Rust types by wasm-bindgen
// and tsify into pkg/veilwatch.d.ts; only what this JavaScript layer adds is declared here.

import type { AlertView, DeploymentOptions, DisclosureResult, ErrorCode, FrameResult, KioskStatus } from '../pkg/veilwatch.js';

export type { AlertView, DeploymentOptions, DisclosureResult, ErrorCode, FrameResult, KioskStatus };

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
  /** Which request failed: start, frame, enrol, load, review, audit, head, bindKey or stop. */
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
export type KioskFrameResult = FrameResult & {
  /** How many blind matches went to the authority (their alerts come later as `alert` events). */
  querying: number;
  /** Time the engine spent on this frame, in milliseconds. */
  ms: number;
  width: number;
  height: number;
  status: KioskStatus;
};

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
  /** Model download progress. */
  onProgress?: (progress: Progress) => void;
}

export interface VeilwatchKioskEventMap {
  faces: CustomEvent<KioskFrameResult>;
  alert: CustomEvent<AlertView>;
  disclosure: CustomEvent<Omit<DisclosureResult, 'status'>>;
  status: CustomEvent<KioskStatus>;
  error: CustomEvent<VeilwatchError>;
}

/** Any frame the kiosk reads: an ImageBitmap is transferred and closed, the others are copied. */
export type FrameSource = ImageBitmap | VideoFrame | HTMLVideoElement | HTMLCanvasElement | OffscreenCanvas;

export declare class VeilwatchKiosk extends EventTarget {
  /** The latest status. */
  readonly status: KioskStatus;
  addEventListener<K extends keyof VeilwatchKioskEventMap>(type: K, listener: (event: VeilwatchKioskEventMap[K]) => void, options?: boolean | AddEventListenerOptions): void;
  addEventListener(type: string, listener: EventListenerOrEventListenerObject, options?: boolean | AddEventListenerOptions): void;
  /** Processes one frame; emits `faces`, `alert` and `status`. */
  processFrame(frame: FrameSource, t?: number): Promise<KioskFrameResult>;
  /** Processes frames from a playing `<video>`, a MediaStream or the device's camera until stop(). */
  run(source?: HTMLVideoElement | MediaStream | 'camera'): Promise<boolean>;
  /** Loads a deployment (the watchlist's buffer is transferred); resolves once it is verified. */
  loadDeployment(deployment: DeploymentOptions): Promise<KioskStatus>;
  /** Demonstration mode: enrols the face in `frame`; resolves with the entry count. */
  enrol(frame: FrameSource, label: string): Promise<number>;
  /** Records a reviewer's decision on an alert. */
  review(alertId: number, decision: ReviewDecision, reviewer: string): Promise<void>;
  /** The audit log as JSON lines. */
  auditLog(): Promise<string>;
  /** This device's kiosk key's public hex, created on first call. */
  kioskKey(): Promise<string>;
  /** Stops the source, wipes every track and ends the Worker. */
  stop(): Promise<void>;
}

/** Starts a kiosk; resolves once the models are loaded. */
export declare function createKiosk(options?: CreateKioskOptions): Promise<VeilwatchKiosk>;
