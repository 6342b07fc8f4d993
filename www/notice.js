// The public notice, rendered from the deployment profile the kiosk runs under
// (/deployment/profile.vwp, verified against /deployment/issuer.pub by the wasm engine). Without a
// deployment the page describes the in-browser demonstration.

import init, { verifyProfile } from '/pkg/veilwatch.js';

const $ = (id) => document.getElementById(id);
const DEMO = {
  purpose: 'Public demonstration of privacy-preserving face matching: volunteers enrol themselves and see the kiosk recognise them.',
  legalBasis: 'Consent of each volunteer who presses “Enrol me”.',
  operator: 'The person running this demonstration',
  location: 'This device',
  window: 'While this page is open; the demonstration watchlist exists only in this browser tab and is gone when it closes.',
  notice: 'This is a demonstration. Nobody is enrolled unless they choose to be.',
  contact: 'Ask the person running the demonstration.',
};

function render(p, windowText) {
  $('purpose').textContent = p.purpose;
  $('legal-basis').textContent = p.legalBasis;
  $('operator').textContent = p.operator;
  $('location').textContent = p.location;
  $('window').textContent = windowText;
  $('notice-text').textContent = p.notice;
  $('contact').textContent = p.contact;
}

async function load() {
  const [profile, issuer] = await Promise.all(['/deployment/profile.vwp', '/deployment/issuer.pub'].map((u) => fetch(u)));
  if (!profile.ok || !issuer.ok) {
    render(DEMO, DEMO.window);
    $('notice-state').textContent = 'Demonstration mode: no deployment profile is installed on this kiosk.';
    return;
  }
  await init();
  try {
    const p = verifyProfile(await profile.text(), (await issuer.text()).trim());
    render(p, `from ${p.validFrom} until ${p.validUntil}`);
    $('notice-state').textContent = 'This notice comes from the signed deployment profile the kiosk runs under.';
  } catch (error) {
    $('notice-state').textContent = `The deployment profile could not be verified (${error.message}). The kiosk does not run under it.`;
    $('notice-state').classList.add('error');
  }
}

load().catch((error) => {
  $('notice-state').textContent = `The notice could not be loaded: ${error.message}`;
});
