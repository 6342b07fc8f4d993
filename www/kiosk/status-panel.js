// The watchlist panel (what the kiosk matches against, under which custody, until when, and the
// error rates to expect) and the counters (what was processed; "retained" is always 0).

const $ = (id) => document.getElementById(id);

/** Shows `status` (kiosk.status()) in the watchlist panel. */
export function showWatchlist(status) {
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

/** Shows the frame counters (processFrame's `counters`) and, if given, the frame time in ms. */
export function showCounters(counters, ms) {
  $('processed-line').textContent = `faces processed ${counters.facesProcessed} · retained ${counters.retained}`;
  $('frames').textContent = counters.frames;
  $('faces-processed').textContent = counters.facesProcessed;
  $('retained').textContent = counters.retained;
  $('rejected').textContent = counters.facesRejected;
  $('attempts').textContent = counters.matchAttempts;
  $('alert-count').textContent = counters.alerts;
  if (ms !== undefined) $('frame-ms').textContent = `${ms.toFixed(0)} ms`;
}
