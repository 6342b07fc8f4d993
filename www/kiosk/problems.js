// What the page says when a request to the engine fails: chosen by the request and the error's
// stable `code`, never by reading the engine's English; the engine's message is quoted, because it
// says what to do ("ask the issuer for a new profile").

import { errorMessage, isVeilwatchError } from '../api/create-kiosk.js';

/** The deployment's window is closed: matching stops, detection goes on. */
const WINDOW_CLOSED = new Set(['WATCHLIST_EXPIRED', 'WATCHLIST_NOT_YET_VALID', 'PROFILE_EXPIRED', 'PROFILE_NOT_YET_VALID']);

/** The sentence for the status line when `error` (usually a VeilwatchError) ends a request. */
export function explain(error) {
  if (!isVeilwatchError(error)) return `Something went wrong on this page: ${error?.message ?? error}. Reload the page.`;
  const { request, code, message } = error;
  if (code === 'INSECURE_CONTEXT') return errorMessage(code, document.documentElement.lang);
  if (code === 'WORKER_FAILED') return `The engine worker could not start: ${message}. Reload the page.`;
  if (code === 'NOT_READY') return 'The face models are still loading: try again in a moment.';
  if (code === 'ENGINE_STOPPED') return 'The face engine is restarting: try again in a moment.';
  if (error.fatal) return `The face engine stopped on an internal error (${message}). It is being restarted; the audit log is kept.`;
  if (code === 'AUDIT_LOG_BROKEN' || code === 'AUDIT_LOG_FOREIGN') {
    return `The kiosk cannot start: ${message}. Nothing runs until the operator exports it and starts a new one (Operator → Export the stored log and start a new one).`;
  }
  switch (request) {
    case 'frame':
      return WINDOW_CLOSED.has(code) ? `Matching stopped: ${message}` : `A frame could not be processed: ${message}`;
    case 'load':
      return `The watchlist was refused: ${message}. The kiosk keeps running without it.`;
    case 'enrol':
      return `Enrolment failed: ${message}`;
    case 'review':
      return `The review was not recorded: ${message}`;
    case 'audit':
      return `The audit log could not be exported: ${message}`;
    case 'head':
    case 'bindKey':
      return `The audit log could not be signed: ${message}`;
    default:
      return `The kiosk could not start: ${message}. Reload the page.`;
  }
}
