// The kiosk app uses its own package (issue 18 item 4): the page (www/kiosk.js and the kiosk/
// views it imports) reaches the engine, the audit log's storage and the kiosk key only through
// the typed API a portal imports (api/create-kiosk.js), so that the app and the portal path cannot
// drift. Read from the modules' imports: a page module that imports the engine's client, the
// Worker, the engine package or the storage and signing modules, or that starts a Worker or opens
// IndexedDB itself, fails here.

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import assert from 'node:assert/strict';
import { test } from 'node:test';

import { moduleGraph, repo } from '../harness.mjs';

/** What only the API (and the Worker under it) may use. */
const BEHIND_THE_API = [
  '/kiosk/engine-client.js', '/kiosk-worker.js', '/kiosk/audit-store.js', '/kiosk/audit-anchors.js', '/kiosk/kiosk-key.js',
  '/kiosk/authority-client.js', '/pkg/veilwatch.js', '/pkg/engine-wasm.js',
];

// The page's own modules: everything it imports, short of the package's API folder.
const page = moduleGraph('kiosk.js', { stopAt: (path) => path.startsWith('/api/') });
const own = [...page].filter((path) => !path.startsWith('/api/'));

test('the kiosk page starts the kiosk with createKiosk, the call a portal makes', () => {
  assert.ok(page.has('/api/create-kiosk.js'), 'www/kiosk.js imports api/create-kiosk.js');
  assert.match(readFileSync(join(repo, 'www/kiosk.js'), 'utf8'), /\bcreateKiosk\(/);
});

test('no page module imports what is behind the API', () => {
  assert.ok(own.length >= 10, `the walk found the page's modules: ${own.join(', ')}`);
  assert.deepEqual(BEHIND_THE_API.filter((path) => page.has(path)), [], 'the page reaches these only through api/create-kiosk.js');
});

test('no page module starts a Worker, opens IndexedDB or signs by itself', () => {
  for (const path of own) {
    const source = readFileSync(join(repo, 'www', path), 'utf8');
    assert.doesNotMatch(source, /new\s+(?:Shared)?Worker\s*\(|kiosk-worker|indexedDB|crypto\.subtle/, `www${path}`);
  }
});
