// The watchlist panel (what the kiosk matches against, under which custody, until when, and the
// error rates to expect) and the counters (what was processed; "retained" is always 0).

const $ = (id) => document.getElementById(id);

/** Shows `status` (kiosk.status()) in the watchlist panel. */
export function showWatchlist(status) {
  if (!status) return;
  if (!status.matching) {
    $('watchlist-status').textContent = status.paused
      ? `Matching is paused: ${status.paused}. Load the deployment again once the authority is fixed; faces are detected and counted, nothing is matched.`
      : status.loading
        ? `Not matching yet: ${status.loading} Faces are detected and counted, nothing is matched.`
        : 'No watchlist loaded: faces are detected and counted, nothing is matched.';
    $('false-alerts').textContent = '';
    $('group-rates').textContent = '';
    return;
  }
  const hours = Math.max(0, status.secondsLeft / 3600);
  const left = hours >= 48 ? `${Math.floor(hours / 24)} days` : `${hours.toFixed(1)} hours`;
  // Sealed custody has no tables: its threshold is a similarity, in thousandths.
  const threshold = status.tables > 0
    ? `threshold ${status.threshold} of ${status.tables} tables`
    : `threshold: similarity ${(status.threshold / 1000).toFixed(3)}`;
  const size = status.tables > 0 ? 'the file reveals only its size class' : 'the authority\'s gallery, padded to its size class';
  $('watchlist-status').textContent =
    `up to ${status.entries} entries (${size}) · custody ${status.custody} (${status.custodyNote}) · ` +
    `${threshold} · at most ${status.queryRatePerMinute} faces matched a minute · ` +
    `valid until ${status.validUntil} (${left} left)`;
  const target = status.targetFpir ? ` (chosen for ${status.targetFpir} per passer-by)` : '';
  const issuer = status.issuerFalseAlerts;
  const issuerText = issuer
    ? `the issuer's estimate for this list's own entries: ${perThousand(issuer.per1000)} (95% interval ` +
      `${perThousand(issuer.per1000Ci95[0])}–${perThousand(issuer.per1000Ci95[1])}; ${issuer.calibration})`
    : '';
  if (status.expectedFalseAlertsPer1000 == null) {
    // No shipped calibration for this custody (sealed): only what the issuer measured, if anything.
    $('false-alerts').textContent = issuer
      ? `Expected false alerts per 1 000 passers-by${target}: ${issuerText}.`
      : `No calibrated false-alert rate for ${status.custody} custody at this threshold: the issuer recorded none in the profile.`;
    $('group-rates').textContent = '';
    return;
  }
  $('false-alerts').textContent =
    `Expected false alerts per 1 000 passers-by at most, for this size class and threshold${target}: ` +
    `${perThousand(status.expectedFalseAlertsPer1000)} (95% interval ${perThousand(status.expectedFalseAlertsCi95[0])}–` +
    `${perThousand(status.expectedFalseAlertsCi95[1])}; from ${status.falseAlertsCalibration}) · estimated share of watchlisted people's tracks that alert: ` +
    `${percent(status.estimatedTrueMatchRate)}`;
  if (issuer) $('false-alerts').textContent += ` · ${issuerText}`;
  const groups = status.groupRates ?? [];
  const strangers = groups.filter((g) => g.falseAlertsPer1000 !== undefined);
  const watchlisted = groups.filter((g) => g.trueMatchRate !== undefined);
  $('group-rates').textContent =
    'Estimated at this threshold, per group (unequal, and shown as such). False alerts per 1 000 passers-by: ' +
    strangers
      .map((g) => `${g.group} ${perThousand(g.falseAlertsPer1000)} (95% interval ${perThousand(g.falseAlertsCi95[0])}–` +
        `${perThousand(g.falseAlertsCi95[1])}; ${g.people} strangers)`)
      .join(' · ') +
    ` (from ${status.groupRatesCalibration}). Tracks of watchlisted people that alert: ` +
    watchlisted.map((g) => `${g.group} ${percent(g.trueMatchRate)} (${g.people} people)`).join(' · ') + '.';
}

function perThousand(value) {
  return value >= 0.01 ? value.toFixed(2) : value.toExponential(1);
}

function percent(rate) {
  return `${(100 * rate).toFixed(1)}%`;
}

/**
 * Shows the chart of false alerts per passer-by and true matches against the threshold, for this
 * watchlist's size and threshold (an SVG the engine drew from the shipped calibration), behind the
 * "See the plot" link of the watchlist panel.
 */
export function showChart(svg) {
  const holder = $('operating-point');
  holder.hidden = !svg;
  $('operating-point-chart').innerHTML = svg ?? '';
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
