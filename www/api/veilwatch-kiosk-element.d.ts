// Types of api/veilwatch-kiosk-element.js.

import type { VeilwatchKiosk } from './create-kiosk.js';

/** <veilwatch-kiosk base-url="…" models-url="…">: the kiosk in a shadow root, styled through
 * ::part(start | stop | fullscreen | progress | status | announce | stage | overlay | summary). Emits the
 * VeilwatchKiosk events plus `progress` and `ready`, bubbling and composed. */
export declare class VeilwatchKioskElement extends HTMLElement {
  /** The running kiosk once the models are loaded, else null. */
  readonly kiosk: VeilwatchKiosk | null;
}

/** Defines the element (default name `veilwatch-kiosk`); importing the module defines nothing. */
export declare function defineVeilwatchKiosk(name?: string): void;
