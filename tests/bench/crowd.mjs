// `make bench`, the crowd: the kiosk's engine Worker (www/kiosk-worker.js through
// www/kiosk/engine-client.js, the kiosk page's own frame path: camera → ImageBitmap transferred to
// the Worker) in headless Chromium, on a fake camera showing 1, 5 and 10 LFW faces moving across a
// 640×480 scene (a 9.5 s clip, looped by the browser: the faces walk 100 px to the right for 8 s, then
// 1.5 s of empty scene ends their tracks, so that every loop is a new group with new tracks and no
// track jumps to a neighbour's face). One of the faces is on a local-custody
// watchlist. For each crowd size: frames per second sustained, faces processed and faces embedded
// per second (embedding on need: src/track.rs), and the time from the first frame the kiosk took
// of each new track of the watchlisted face to its alert (the frame's grab to the reply carrying
// the alert). Results go to bench.json under "kiosk_crowd".
//
// Two Workers (issue 19, item 2): each crowd runs twice in the same process, with the engine alone
// in one Worker (the reference) and with the detection Worker beside it (the kiosk's default,
// up to two frames in flight), and the ratio is printed. BENCH_PIPELINES=two runs only the latter.
//
// Custody (BENCH_CUSTODIES, default local,voprf): local (the PRF key in the kiosk), and VOPRF
// custody at a real `veilwatch authority` on loopback (the kiosk key made in the page, the deployment
// registered for it, every query a signed round trip; alerts arrive when the authority's answer does,
// so "first frame to alert" includes the round trip), and sealed custody (BFV, DESIGN §3.4) at the
// same authority (`enroll --custody sealed`, the kiosk loading the signed descriptor; each face's
// steps one after another, so "first frame to alert" includes the faces queued before it).
// BENCH_CUSTODIES=local,voprf,sealed is the default. The authority custodies run the kiosk's
// default only (two Workers).

import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { spawn } from 'node:child_process';

import { cli, freePort, haveLfw, launchWithCamera, lfw, repo, serveKiosk } from '../harness.mjs';

const seconds = Number(process.env.BENCH_SECONDS ?? 20);
const sizes = (process.env.BENCH_CROWDS ?? '1,5,10').split(',').map(Number);
if (!haveLfw('the crowd benchmark')) process.exit(0);

const photo = (name, i) => join(lfw, name, `${name}_${String(i).padStart(4, '0')}.jpg`);
const WATCHLISTED = 'Colin_Powell';
const STRANGERS = ['Tony_Blair', 'Aaron_Sorkin', 'Hugo_Chavez', 'Akhmed_Zakayev', 'Alfred_Sant', 'Andrea_Bocelli',
  'Benjamin_McKenzie', 'Carly_Fiorina', 'Arye_Mekel'];
const veilwatch = (...args) => execFileSync(cli, ['--models', join(repo, 'models'), ...args], { encoding: 'utf8' });

/** A 9.5 s, 30 frames/s .y4m of `count` faces (160 px tiles of LFW photos, faces about 65 px wide,
 * the first the watchlisted person's) in up to three rows of four, walking 12.5 px/s to the right across a grey 640×480 scene for 8 s, then 1.5 s without them. */
function crowdCamera(path, count) {
  const people = [photo(WATCHLISTED, 1), ...STRANGERS.map((p) => photo(p, 1))].slice(0, count);
  const inputs = people.flatMap((p) => ['-loop', '1', '-t', '9.5', '-i', p]);
  const chains = [`color=c=gray:s=640x480:r=30:d=9.5[bg]`];
  let last = 'bg';
  people.forEach((_, i) => {
    const row = Math.floor(i / 4);
    const [x0, y0] = [10 + 120 * (i % 4), count > 8 ? 160 * row : count > 4 ? 80 + 160 * row : 160];
    chains.push(`[${i}:v]scale=160:160,setsar=1[p${i}]`);
    chains.push(`[${last}][p${i}]overlay=x='${x0}+12.5*t':y=${y0}:enable='lt(t,8)':shortest=1[o${i}]`);
    last = `o${i}`;
  });
  chains.push(`[${last}]format=yuv420p[out]`);
  execFileSync('ffmpeg', ['-loglevel', 'error', '-y', ...inputs, '-filter_complex', chains.join(';'), '-map', '[out]',
    '-r', '30', '-t', '9.5', path]);
  return path;
}

/** A local-custody deployment listing the watchlisted person (photos 2–8; the crowd shows photo
 * 1), under a profile whose query-rate cap (6 000 a minute) a crowd does not reach. */
function deployment(scratch) {
  const file = (name) => join(scratch, name);
  const issuerKey = veilwatch('keygen', '--out', file('keys')).trim();
  const prfKey = readFileSync(file('keys/secret/prf-local.key'), 'utf8').trim();
  mkdirSync(file(`people/${WATCHLISTED}`), { recursive: true });
  for (let i = 2; i <= 8; i++) symlinkSync(photo(WATCHLISTED, i), file(`people/${WATCHLISTED}/${i}.jpg`));
  veilwatch('enroll', file('people'), '--keys', file('keys'), '--out', file('list.vwl'), '--valid-until', '2099-01-01');
  writeFileSync(file('profile.json'), JSON.stringify({
    purpose: 'crowd benchmark', legalBasis: 'Test data (LFW)', operator: 'Veilwatch bench', location: 'headless Chromium',
    validFrom: '2020-01-01T00:00:00Z', validUntil: '2099-01-01T00:00:00Z', threshold: 53, thresholdFloor: 50,
    custody: { kind: 'local' }, queryRatePerMinute: 6000, notice: 'Benchmark.', contact: 'bench@veilwatch.invalid',
  }));
  veilwatch('profile', 'sign', '--keys', file('keys'), '--watchlist', file('list.vwl'), '--template', file('profile.json'),
    '--out', file('list.vwp'));
  veilwatch('enroll', file('people'), '--keys', file('keys'), '--out', file('authority.vwl'), '--custody', 'authority',
    '--valid-until', '2099-01-01');
  veilwatch('enroll', file('people'), '--keys', file('keys'), '--out', file('sealed.json'), '--custody', 'sealed',
    '--valid-until', '2099-01-01');
  const budgets = ['--faces-per-minute', '6000', '--faces-per-day', '1000000', '--faces-total', '10000000',
    '--disclosures-per-hour', '10000'];
  /** The profile for custody `custody` naming `list`, signed for the kiosk key `kioskKey`. */
  const signedProfile = (list, custody, kioskKey, threshold) => {
    const template = { ...JSON.parse(readFileSync(file('profile.json'), 'utf8')), custody };
    if (threshold !== undefined) Object.assign(template, { threshold, thresholdFloor: threshold });
    writeFileSync(file('authority-profile.json'), JSON.stringify(template));
    veilwatch('profile', 'sign', '--keys', file('keys'), '--watchlist', list, '--template', file('authority-profile.json'),
      '--kiosk-key', kioskKey, '--out', file('authority.vwp'));
    return readFileSync(file('authority.vwp'), 'utf8');
  };
  return {
    local: {
      watchlist: [...readFileSync(file('list.vwl'))], issuerKey, profile: readFileSync(file('list.vwp'), 'utf8'),
      custody: { kind: 'local', prfKey },
    },
    /** VOPRF custody for the kiosk key `kioskKey` at `url`: registers the deployment for it and signs
     * its profile; resolves with the deployment and the running authority (kill it when done). */
    async voprf(kioskKey, url, kioskOrigin) {
      const registration = file(`${kioskKey.slice(0, 8)}.vwr`);
      veilwatch('registration', 'deployment', '--keys', file('keys'), '--watchlist', file('authority.vwl'),
        '--materials', file('authority.vwl.materials.json'), '--kiosk-key', kioskKey, ...budgets, '--out', registration);
      const custody = { kind: 'authority', url };
      return {
        authority: await startAuthority(file('keys/authority'), registration, url, kioskOrigin),
        deployment: {
          watchlist: [...readFileSync(file('authority.vwl'))], issuerKey,
          profile: signedProfile(file('authority.vwl'), custody, kioskKey), custody, kioskPublicKey: kioskKey,
        },
      };
    },
    /** Sealed custody for the kiosk key `kioskKey` at `url`, as `voprf` (the kiosk loads the
     * deployment's signed descriptor; the profile carries its threshold). */
    async sealed(kioskKey, url, kioskOrigin) {
      const registration = file(`${kioskKey.slice(0, 8)}.sealed.vwr`);
      veilwatch('registration', 'deployment', '--keys', file('keys'), '--sealed', file('sealed.json'),
        '--kiosk-key', kioskKey, ...budgets, '--out', registration);
      const descriptor = readFileSync(file('sealed.json.deployment'));
      const { thresholdMilli } = JSON.parse(descriptor.toString('utf8').split('\n')[1]);
      const custody = { kind: 'sealed', url };
      return {
        authority: await startAuthority(file('keys/authority'), registration, url, kioskOrigin),
        deployment: {
          watchlist: [...descriptor], issuerKey,
          profile: signedProfile(file('sealed.json.deployment'), custody, kioskKey, thresholdMilli), custody,
          kioskPublicKey: kioskKey,
        },
      };
    },
  };
}

/** Starts `veilwatch authority` on `url`'s port with the registration `registration`, serving
 * `kioskOrigin`; resolves with the process once it answers (kill it when done). */
async function startAuthority(keys, registration, url, kioskOrigin) {
  const { port } = new URL(url);
  const authority = spawn(cli, ['authority', '--keys', keys, '--listen', `127.0.0.1:${port}`,
    '--admin-listen', '127.0.0.1:0', '--allow-origin', kioskOrigin, '--register', registration], { stdio: 'ignore' });
  for (let i = 0; ; i++) {
    try {
      await fetch(`${url}/v1/health`);
      return authority;
    } catch (error) {
      if (i === 100) {
        authority.kill();
        throw new Error(`veilwatch authority did not come up at ${url}: ${error.message}`);
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}

/** The engine Worker on the fake camera for `seconds` (after 3 s of warm-up): what it kept up with. */
async function runCrowd(origin, camera, deployments, { pipelined, custody, authorityUrl }) {
  const browser = await launchWithCamera(camera);
  let authority = null;
  try {
    const page = await browser.newPage();
    await page.goto(`${origin}/notice.html`);
    let deploymentArgs = deployments.local;
    if (custody !== 'local') {
      const kioskKey = await page.evaluate(async () => (await (await import('/kiosk/kiosk-key.js')).createKioskKey()).publicHex);
      ({ authority, deployment: deploymentArgs } = await deployments[custody](kioskKey, authorityUrl, origin));
    }
    return await page.evaluate(async ({ seconds, deploymentArgs, pipelined }) => {
      const { EngineClient } = await import('/kiosk/engine-client.js');
      const { openCamera, closeCamera, grabFrame, hasFrame } = await import('/kiosk/camera.js');
      const engine = new EngineClient('/kiosk-worker.js', { pipelined });
      await engine.start({ kioskKey: deploymentArgs.kioskPublicKey });
      await engine.loadWatchlist({ ...deploymentArgs, watchlist: Uint8Array.from(deploymentArgs.watchlist) });
      const video = document.createElement('video');
      video.muted = true;
      const stream = await openCamera(video, () => {});
      while (!hasFrame(video)) await new Promise((r) => setTimeout(r, 10));
      const firstSeen = new Map();
      const latencies = [];
      let [frames, counters, start] = [0, null, null];
      // Frames taken while the group is in view (the clip's last 1.5 s shows none), and their time.
      const inView = { frames: 0, ms: 0 };
      const warmUntil = performance.now() + 3000;
      // Under authority custody an alert comes when the authority's answer does, outside any frame.
      engine.onMatched = ({ alerts }) => {
        const replied = performance.now();
        for (const alert of alerts) {
          if (start) latencies.push(replied - firstSeen.get(alert.track));
          engine.review(alert.id, 'reject', 'bench');
        }
      };
      // Up to the engine's pipeline depth of frames in flight, as the kiosk page keeps them
      // (kiosk/camera.js pumpFrames); replies come back in the order the frames were taken. "In
      // view" time is the time between replies while faces are in view.
      const inFlight = new Set();
      let lastReply = null;
      let running = true;
      const take = async () => {
        const grabbed = performance.now();
        if (grabbed >= warmUntil && start === null) start = { t: grabbed, frames, counters };
        if (start && grabbed - start.t >= seconds * 1000) return void (running = false);
        const result = await engine.processFrame(await grabFrame(video), Date.now());
        const replied = performance.now();
        frames += 1;
        counters = result.counters;
        if (start && result.faces.length > 0 && lastReply !== null) {
          [inView.frames, inView.ms] = [inView.frames + 1, inView.ms + replied - lastReply];
        }
        lastReply = replied;
        for (const face of result.faces) if (!firstSeen.has(face.track)) firstSeen.set(face.track, grabbed);
        if (start) for (const alert of result.alerts) latencies.push(replied - firstSeen.get(alert.track));
        for (const alert of result.alerts) await engine.review(alert.id, 'reject', 'bench');
      };
      while (running || inFlight.size > 0) {
        while (running && inFlight.size < engine.pipelineDepth) {
          const taken = take().finally(() => inFlight.delete(taken));
          inFlight.add(taken);
          // The next frame is taken on the next animation frame at the earliest, as the page does.
          await new Promise((r) => requestAnimationFrame(r));
        }
        if (inFlight.size > 0) await Promise.race(inFlight);
      }
      const elapsed = (performance.now() - start.t) / 1000;
      closeCamera(video, stream);
      await engine.stop();
      engine.terminate();
      const delta = (key) => (counters[key] - start.counters[key]) / elapsed;
      const sorted = latencies.sort((a, b) => a - b);
      return {
        custody: { local: 'local', authority: 'voprf', sealed: 'sealed' }[deploymentArgs.custody.kind],
        workers: engine.pipelineDepth,
        seconds: elapsed,
        fps: (frames - start.frames) / elapsed,
        fps_in_view: inView.frames / (inView.ms / 1000),
        faces_per_frame: (counters.facesProcessed - start.counters.facesProcessed) / (frames - start.frames),
        faces_processed_per_s: delta('facesProcessed'),
        faces_rejected_per_s: delta('facesRejected'),
        // (An engine from before embedding on need has no such counter: it embedded every face.)
        faces_embedded_per_s: counters.facesEmbedded === undefined ? null : delta('facesEmbedded'),
        match_attempts_per_s: delta('matchAttempts'),
        // Frames detected at the full input (src/kiosk/detection.rs); an engine from before the
        // reduced input has no such counter: it detected every frame at the full input.
        full_detection_share: counters.fullDetections === undefined ? 1
          : (counters.fullDetections - start.counters.fullDetections) / (frames - start.frames),
        alerts: latencies.length,
        first_frame_to_alert_ms: sorted.length ? { median: sorted[Math.floor(sorted.length / 2)], max: sorted.at(-1) } : null,
      };
    }, { seconds, deploymentArgs, pipelined });
  } finally {
    await browser.close();
    authority?.kill();
  }
}

const scratch = mkdtempSync(join(tmpdir(), 'veilwatch-crowd-'));
const authorityUrl = `http://127.0.0.1:${await freePort()}`;
const { origin, process: server } = await serveKiosk(['--authority', authorityUrl]);
try {
  const deployments = deployment(scratch);
  const crowd = {
    custody: 'local',
    camera: '640x480, 30 frames/s, 9.5 s clip looped, faces walking 12.5 px/s for 8 s',
    seconds,
    faces: {},
    one_worker: {},
    voprf: {},
    sealed: {},
  };
  const pipelines = (process.env.BENCH_PIPELINES ?? 'one,two').split(',');
  const custodies = (process.env.BENCH_CUSTODIES ?? 'local,voprf,sealed').split(',');
  const show = (count, result) => {
    const alert = result.first_frame_to_alert_ms;
    console.log(`  crowd of ${String(count).padStart(2)}, ${result.custody}, ${result.workers === 2 ? 'two Workers' : 'one Worker '}: ${result.fps_in_view.toFixed(1)} frames/s while in view (${result.fps.toFixed(1)} overall), ${result.faces_per_frame.toFixed(1)} faces a frame, `
      + `${result.faces_embedded_per_s?.toFixed(1) ?? 'all'} embedded/s of ${result.faces_processed_per_s.toFixed(1)} processed/s (${result.faces_rejected_per_s.toFixed(1)}/s rejected by the quality gate); `
      + `${(result.full_detection_share * 100).toFixed(0)} % of frames detected at the full input; `
      + `first frame to alert (${result.alerts} alerts) ${alert ? `median ${alert.median.toFixed(0)} ms, max ${alert.max.toFixed(0)} ms` : 'none'}`);
  };
  for (const count of sizes) {
    const camera = crowdCamera(join(scratch, `crowd-${count}.y4m`), count);
    const run = (pipelined, custody) => runCrowd(origin, camera, deployments, { pipelined, custody, authorityUrl });
    const local = custodies.includes('local');
    const one = local && pipelines.includes('one') ? await run(false, 'local') : null;
    const two = local && pipelines.includes('two') ? await run(true, 'local') : null;
    const voprf = custodies.includes('voprf') ? await run(true, 'voprf') : null;
    const sealed = custodies.includes('sealed') ? await run(true, 'sealed') : null;
    [one, two, voprf, sealed].filter(Boolean).forEach((result) => show(count, result));
    if (one && two) {
      console.log(`  crowd of ${String(count).padStart(2)}: two Workers / one, frames/s while in view ×${(two.fps_in_view / one.fps_in_view).toFixed(2)}`);
    }
    if (two ?? one) crowd.faces[count] = two ?? one;
    if (one && two) crowd.one_worker[count] = one;
    if (voprf) crowd.voprf[count] = voprf;
    if (sealed) crowd.sealed[count] = sealed;
  }
  const benchPath = join(repo, 'bench.json');
  let report = {};
  try { report = JSON.parse(readFileSync(benchPath, 'utf8')); } catch { /* first run */ }
  report.kiosk_crowd = crowd;
  writeFileSync(`${benchPath}.tmp`, JSON.stringify(report, null, 2));
  renameSync(`${benchPath}.tmp`, benchPath);
} finally {
  server.kill();
  rmSync(scratch, { recursive: true, force: true });
}
