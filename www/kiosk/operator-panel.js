// The operator's panel: the deployment to load (watchlist file, optional profile, issuer key, and
// custody: a local PRF key or an authority URL), the kiosk key and the audit log export.

const $ = (id) => document.getElementById(id);

/** A problem with the form itself, found before anything is sent to the engine. */
export class FormProblem extends Error {}

/**
 * The deployment the form describes, as `kiosk.loadWatchlist` takes it:
 * `{watchlist, issuerKey, profile?, custody}`. Throws a FormProblem if no watchlist was chosen.
 */
export async function readDeployment() {
  const file = $('watchlist-file').files[0];
  if (!file) throw new FormProblem('Choose a watchlist file first.');
  const profileFile = $('profile-file').files[0];
  const authority = $('authority-url').value.trim();
  const deployment = {
    watchlist: new Uint8Array(await file.arrayBuffer()),
    issuerKey: $('issuer-key').value,
    custody: authority ? { kind: 'authority', url: authority } : { kind: 'local', prfKey: $('prf-key').value },
  };
  if (profileFile) deployment.profile = await profileFile.text();
  return deployment;
}

// The field an operator most likely has to change when a load is refused with this code.
const FIELD_FOR_CODE = {
  WATCHLIST_INVALID: 'watchlist-file',
  WATCHLIST_TAMPERED: 'watchlist-file',
  WATCHLIST_EXPIRED: 'watchlist-file',
  WATCHLIST_NOT_YET_VALID: 'watchlist-file',
  WATCHLIST_FOREIGN: 'issuer-key',
  WATCHLIST_WRONG_KEY: 'prf-key',
  AUTHORITY_UNAVAILABLE: 'authority-url',
  AUTHORITY_BAD_ANSWER: 'authority-url',
  PROFILE_INVALID: 'profile-file',
  PROFILE_FOREIGN: 'profile-file',
  PROFILE_TAMPERED: 'profile-file',
  PROFILE_EXPIRED: 'profile-file',
  PROFILE_NOT_YET_VALID: 'profile-file',
  PROFILE_WATCHLIST_MISMATCH: 'profile-file',
  PROFILE_BELOW_FLOOR: 'profile-file',
};

/** Moves the focus to the field to fix after a load refused with `code`, if there is one. */
export function focusFieldFor(code) {
  const id = FIELD_FOR_CODE[code];
  if (id) $(id).focus();
}

/** Offers JSON lines (the audit log, or its signed heads) as a download named `name`. */
export function downloadAudit(text, name) {
  const url = URL.createObjectURL(new Blob([text], { type: 'application/x-ndjson' }));
  Object.assign(document.createElement('a'), { href: url, download: name }).click();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}
