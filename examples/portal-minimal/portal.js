import { defineVeilwatchKiosk } from 'veilwatch/element';

defineVeilwatchKiosk();
document.querySelector('veilwatch-kiosk').addEventListener('alert', ({ detail }) => {
  console.log(`alert on track ${detail.track}: waiting for a reviewer`);
});
