// The public notice, rendered from the deployment profile the kiosk in this browser actually
// loaded and verified (it comes from the kiosk page, see kiosk/notice-channel.js), never from an
// independent download. In demo mode, or when no kiosk is running, the page says so.

import { followKiosk } from './kiosk/notice-channel.js';

const $ = (id) => document.getElementById(id);
const DEMO = {
  purpose: 'Public demonstration of privacy-preserving face matching: volunteers enrol themselves and see the kiosk recognise them.',
  legalBasis: 'Consent of each volunteer who presses “Enrol me”.',
  operator: 'The person running this demonstration',
  location: 'This device',
  notice: 'This is a demonstration. Nobody is enrolled unless they choose to be.',
  contact: 'Ask the person running the demonstration.',
};
const DEMO_WINDOW = 'While the kiosk page is open; the demonstration watchlist exists only in that browser tab and is gone when it closes.';

function render(p, windowText) {
  $('purpose').textContent = p.purpose;
  $('legal-basis').textContent = p.legalBasis;
  $('operator').textContent = p.operator;
  $('location').textContent = p.location;
  $('window').textContent = windowText;
  $('notice-text').textContent = p.notice;
  $('contact').textContent = p.contact;
}

function show(running) {
  const state = $('notice-state');
  state.classList.remove('error');
  if (!running) {
    render(DEMO, DEMO_WINDOW);
    state.textContent = 'No kiosk is running in this browser, so no deployment is in operation here. Open the kiosk page to see the notice it runs under.';
    return;
  }
  if (running.mode !== 'deployment' || !running.notice) {
    render(DEMO, DEMO_WINDOW);
    state.textContent = 'Demonstration mode: the kiosk runs no deployment. Nobody is on a watchlist unless they enrolled themselves here.';
    return;
  }
  const p = running.notice;
  const until = running.validUntil && running.validUntil < p.validUntil ? `${running.validUntil} (when the watchlist expires)` : p.validUntil;
  render(p, `from ${p.validFrom} until ${until}; at most ${p.queryRatePerMinute} faces matched a minute`);
  state.textContent = 'This notice is the signed deployment profile the kiosk on this device loaded and verified.';
}

followKiosk(show);
