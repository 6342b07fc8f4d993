// Every call the kiosk makes to the authority goes through `signedFetch` (protocol B, DESIGN §5):
// the request is signed with the kiosk's non-extractable WebCrypto Ed25519 key (kiosk-key.js) over
// exactly the bytes of `request_message` in src/authority/credential.rs,
//
//   VEILWATCH-REQUEST-V2\n{authority}\n{METHOD}\n{path}\n{deployment}\n{kiosk}\n{timestamp}\n{nonce}\n{sha256(body) hex}
//
// where {authority} is the origin of the authority's URL (`new URL(url).origin`, the profile's
// custody.url), so that a request signed for one authority (staging) is refused by another
// (production); and sent with the five credential headers and a deadline. Without a kiosk key nothing is sent:
// the call is refused here, telling the operator to create one. A refusal from the authority
// (401, 403, 429, 503, …) comes back as an `AuthorityRefusal` whose message carries the
// authority's reason, its `Veilwatch-Refusal` token and `Retry-After`, for the operator to read.
// tests/e2e/request_signature.test.mjs checks these bytes against the Rust signer.

const hex = (bytes) => Array.from(new Uint8Array(bytes), (b) => b.toString(16).padStart(2, '0')).join('');

/** The header names (lowercase, as src/authority/credential.rs spells them). */
export const HEADERS = {
  kiosk: 'veilwatch-kiosk',
  deployment: 'veilwatch-deployment',
  timestamp: 'veilwatch-timestamp',
  nonce: 'veilwatch-nonce',
  signature: 'veilwatch-signature',
  refusal: 'veilwatch-refusal',
};

/** How long an authority call may take unless the caller says otherwise. */
export const DEFAULT_TIMEOUT_MS = 5_000;

const NO_KEY =
  'this kiosk has no key, so the authority cannot be asked: create one in the operator panel ' +
  '(Kiosk key → Create) and have the issuer register its public key for this deployment';

/** A refusal or failure of an authority call; `code` is stable, `message` is for the operator. */
export class AuthorityRefusal extends Error {
  constructor(message, { code, status = null, refusal = null, retryAfter = null } = {}) {
    super(message);
    this.name = 'AuthorityRefusal';
    this.code = code;
    this.status = status;
    this.refusal = refusal;
    this.retryAfter = retryAfter;
  }
}

const asBytes = (body) => (body === undefined || body === null ? new Uint8Array(0)
  : typeof body === 'string' ? new TextEncoder().encode(body)
  : body instanceof Uint8Array ? body
  : new Uint8Array(body));

/** A fresh request nonce: 16 random bytes, 32 hex digits. */
export const newNonce = () => hex(crypto.getRandomValues(new Uint8Array(16)));

/** The bytes a kiosk signs for one request (the same bytes as `request_message` in Rust). */
export async function requestMessage({ authority, method, path, deploymentHex, kioskHex, timestamp, nonceHex, body }) {
  const digest = hex(await crypto.subtle.digest('SHA-256', asBytes(body)));
  return new TextEncoder().encode(
    `VEILWATCH-REQUEST-V2\n${authority}\n${method.toUpperCase()}\n${path}\n${deploymentHex}\n${kioskHex}\n${timestamp}\n${nonceHex}\n${digest}`,
  );
}

/** The origin a request to the authority at `url` is signed for (what `--public-origin` names). */
export const authorityOrigin = (url) => new URL(url).origin;

/**
 * The five credential headers for one request to the authority at `authority` (its origin, see
 * `authorityOrigin`), signed with `kioskKey` (`{pair, publicHex}` from kiosk-key.js). `timestamp`
 * (unix seconds) defaults to now, `nonceHex` to a fresh nonce.
 */
export async function signedHeaders({ authority, method = 'POST', path, body, deploymentHex, kioskKey, timestamp, nonceHex }) {
  if (!kioskKey) throw new AuthorityRefusal(NO_KEY, { code: 'KIOSK_KEY_MISSING' });
  if (!/^[0-9a-f]{32}$/.test(deploymentHex ?? '')) {
    throw new AuthorityRefusal('no deployment is loaded, so there is no authority to ask', { code: 'NOT_READY' });
  }
  if (typeof authority !== 'string' || authority !== authorityOrigin(authority)) {
    throw new AuthorityRefusal(`${authority} is not an authority origin (scheme://host[:port])`, { code: 'NOT_READY' });
  }
  const fields = {
    authority,
    method,
    path,
    deploymentHex,
    kioskHex: kioskKey.publicHex,
    timestamp: timestamp ?? Math.floor(Date.now() / 1000),
    nonceHex: nonceHex ?? newNonce(),
    body,
  };
  const signature = await crypto.subtle.sign({ name: 'Ed25519' }, kioskKey.pair.privateKey, await requestMessage(fields));
  return {
    [HEADERS.kiosk]: fields.kioskHex,
    [HEADERS.deployment]: deploymentHex,
    [HEADERS.timestamp]: String(fields.timestamp),
    [HEADERS.nonce]: fields.nonceHex,
    [HEADERS.signature]: hex(signature),
  };
}

/**
 * POSTs (or `method`s) `body` to `path` of the authority at `url` (its base URL), signed; resolves
 * with the `Response` of a 2xx answer. Rejects with an `AuthorityRefusal`: `KIOSK_KEY_MISSING`
 * (nothing sent), `AUTHORITY_REFUSED` (the authority's status, token, Retry-After and reason),
 * `AUTHORITY_UNAVAILABLE` (no answer within `timeoutMs`, or the request failed). `nonceHex`: the
 * nonce to sign with (a disclosure's proof is bound to the nonce the engine chose).
 */
export async function signedFetch(url, { method = 'POST', path, body, deploymentHex, kioskKey, nonceHex, contentType = 'application/octet-stream', timeoutMs = DEFAULT_TIMEOUT_MS }) {
  const bytes = asBytes(body);
  const base = url.replace(/\/+$/, '');
  let authority;
  try {
    authority = authorityOrigin(base);
  } catch {
    throw new AuthorityRefusal(`${url} is not the URL of an authority`, { code: 'NOT_READY' });
  }
  const headers = await signedHeaders({ authority, method, path, body: bytes, deploymentHex, kioskKey, nonceHex });
  let response;
  try {
    response = await fetch(`${base}${path}`, {
      method,
      headers: { 'content-type': contentType, ...headers },
      body: method === 'GET' ? undefined : bytes,
      signal: AbortSignal.timeout(timeoutMs),
    });
  } catch (error) {
    const message = error?.name === 'TimeoutError'
      ? `the authority at ${base} did not answer within ${timeoutMs / 1000} s`
      : `cannot reach the authority at ${base}: the request failed (down, or blocked by the page's security policy)`;
    throw new AuthorityRefusal(message, { code: 'AUTHORITY_UNAVAILABLE' });
  }
  if (response.ok) return response;
  const refusal = response.headers.get(HEADERS.refusal);
  const retryAfter = response.headers.get('retry-after');
  const reason = (await response.text().catch(() => '')).trim().slice(0, 500);
  const details = [`HTTP ${response.status}`, refusal, retryAfter && `retry after ${retryAfter} s`].filter(Boolean).join(', ');
  throw new AuthorityRefusal(`the authority at ${base} refused (${details})${reason ? `: ${reason}` : ''}`, {
    code: 'AUTHORITY_REFUSED',
    status: response.status,
    refusal,
    retryAfter: retryAfter === null ? null : Number(retryAfter),
  });
}
