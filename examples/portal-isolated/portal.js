import { defineVeilwatchKiosk } from 'veilwatch/element';

defineVeilwatchKiosk();
const kiosk = document.querySelector('veilwatch-kiosk');
// What reaches the portal: counts, track ids, flags and error codes; never a face, a crop or a key.
kiosk.addEventListener('alert', ({ detail }) => {
  document.getElementById('log').textContent = `Alert ${detail.alert} (track ${detail.track}) is waiting for a reviewer at the kiosk.`;
});
kiosk.addEventListener('error', ({ detail }) => console.warn(`kiosk: ${detail.code}`));
