// The tag of every message between <veilwatch-kiosk mode="isolated"> (in the portal) and
// api/isolated-kiosk.js (in the frame, on the Veilwatch origin); a message without it is ignored.
export const ISOLATED_PROTOCOL = 'veilwatch-isolated/v1';
