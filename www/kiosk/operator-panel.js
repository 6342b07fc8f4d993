// The operator's panel: the deployment to load (watchlist file, its signed profile, issuer key, and
// custody: a local PRF key or an authority URL; a sealed deployment's descriptor in place of the
// watchlist means sealed custody at that authority), the kiosk's configuration from the deployment
// folder (the overseer's key), whether "Enrol me" is available, the kiosk key and the audit log export.

const $ = (id) => document.getElementById(id);

/** The first line of a sealed deployment's descriptor (src/sealed/descriptor.rs). */
const SEALED_DESCRIPTOR_MAGIC = new TextEncoder().encode('VEILWATCH-SEALED-DEPLOYMENT-V1\n');

const startsWith = (bytes, prefix) => bytes.length >= prefix.length && prefix.every((b, i) => bytes[i] === b);

/** A problem with the form itself, found before anything is sent to the engine. */
export class FormProblem extends Error {}

/**
 * The deployment the form describes, as `kiosk.loadWatchlist` takes it:
 * `{watchlist, issuerKey, profile, custody, kioskPublicKey?}`, with this kiosk's public key (hex)
 * if it has one. Throws a FormProblem if no watchlist or no profile was chosen.
 */
export async function readDeployment(kioskPublicKey) {
  const file = $('watchlist-file').files[0];
  if (!file) throw new FormProblem('Choose a watchlist file first.');
  const profileFile = $('profile-file').files[0];
  if (!profileFile) throw new FormProblem('Choose the deployment profile (.vwp) the issuer signed for this watchlist: a deployment runs only under its profile.');
  const authority = $('authority-url').value.trim();
  const watchlist = new Uint8Array(await file.arrayBuffer());
  // A sealed deployment's descriptor (enroll --custody sealed writes FILE.deployment) stands where
  // the watchlist would: the list itself stays sealed at the authority.
  const sealed = startsWith(watchlist, SEALED_DESCRIPTOR_MAGIC);
  if (sealed && !authority) throw new FormProblem('This is a sealed deployment: enter the authority URL the issuer gave you.');
  let custody = { kind: 'local', prfKey: $('prf-key').value };
  if (authority) custody = { kind: sealed ? 'sealed' : 'authority', url: authority };
  const deployment = { watchlist, issuerKey: $('issuer-key').value, custody };
  deployment.profile = await profileFile.text();
  if (kioskPublicKey) deployment.kioskPublicKey = kioskPublicKey;
  return deployment;
}

/**
 * The kiosk's configuration from the deployment folder the server publishes under /deployment/
 * (`make demo DEPLOYMENT=folder`): `{overseerPublicKey}` from overseer.pub when the deployment has
 * an overseer (then every profile must carry the overseer's co-signature), else `{}`.
 */
export async function readKioskConfig() {
  const response = await fetch('/deployment/overseer.pub').catch(() => null);
  if (!response?.ok) return {};
  return { overseerPublicKey: (await response.text()).trim() };
}

/**
 * "Enrol me" is available only with the camera running and no deployment loaded; otherwise the
 * button is disabled and the reason (`status.demoEnrolmentRefused`) is shown beside it.
 */
export function showEnrolment(status, cameraRunning) {
  const refused = status?.demoEnrolmentRefused;
  $('enrol').disabled = !cameraRunning || Boolean(refused);
  $('enrol-reason').textContent = refused ? `“Enrol me” is off: ${refused}.` : '';
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
  AUTHORITY_ANSWER_UNVERIFIED: 'authority-url',
  PROFILE_INVALID: 'profile-file',
  PROFILE_FOREIGN: 'profile-file',
  PROFILE_TAMPERED: 'profile-file',
  PROFILE_EXPIRED: 'profile-file',
  PROFILE_NOT_YET_VALID: 'profile-file',
  PROFILE_WATCHLIST_MISMATCH: 'profile-file',
  PROFILE_BELOW_FLOOR: 'profile-file',
  PROFILE_REQUIRED: 'profile-file',
  PROFILE_CUSTODY_MISMATCH: 'authority-url',
  PROFILE_AUTHORITY_KEY: 'profile-file',
  AUTHORITY_INSECURE: 'authority-url',
  KIOSK_NOT_ALLOWED: 'profile-file',
  OVERSEER_MISSING: 'profile-file',
  OVERSEER_KEY_MISSING: 'profile-file',
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
