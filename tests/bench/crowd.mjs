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
// Custody: local only so far (the VOPRF and sealed custodies need an authority and a registered
// kiosk key; not measured here yet).

import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { cli, haveLfw, launchWithCamera, lfw, repo, serveKiosk } from '../harness.mjs';

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
  return {
    watchlist: [...readFileSync(file('list.vwl'))], issuerKey, profile: readFileSync(file('list.vwp'), 'utf8'),
    custody: { kind: 'local', prfKey },
  };
}

/** The engine Worker on the fake camera for `seconds` (after 3 s of warm-up): what it kept up with. */
async function runCrowd(origin, camera, deploymentArgs, pipelined) {
  const browser = await launchWithCamera(camera);
  try {
    const page = await browser.newPage();
    await page.goto(`${origin}/notice.html`);
    return await page.evaluate(async ({ seconds, deploymentArgs, pipelined }) => {
      const { EngineClient } = await import('/kiosk/engine-client.js');
      const { openCamera, closeCamera, grabFrame, hasFrame } = await import('/kiosk/camera.js');
      const engine = new EngineClient('/kiosk-worker.js', { pipelined });
      await engine.start({});
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
      // Up to the engine's pipeline depth of frames in flight, as the kiosk page keeps them
      // (kiosk/camera.js pumpFrames); replies come back in the order the frames were taken. "In
      // view" time is the time between replies while faces are in view.
      const inFlight = new Set();
      let lastReply = null;
      let [counted, running] = [0, true];
      const take = async () => {
        const grabbed = performance.now();
        if (grabbed >= warmUntil && start === null) start = { t: grabbed, frames: counted, counters };
        if (start && grabbed - start.t >= seconds * 1000) return void (running = false);
        const result = await engine.processFrame(await grabFrame(video), Date.now());
        const replied = performance.now();
        counted += 1;
        frames = counted;
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
  }
}

const scratch = mkdtempSync(join(tmpdir(), 'veilwatch-crowd-'));
const { origin, process: server } = await serveKiosk();
try {
  const deploymentArgs = deployment(scratch);
  const crowd = {
    custody: 'local',
    camera: '640x480, 30 frames/s, 9.5 s clip looped, faces walking 12.5 px/s for 8 s',
    seconds,
    faces: {},
    one_worker: {},
  };
  const pipelines = (process.env.BENCH_PIPELINES ?? 'one,two').split(',');
  for (const count of sizes) {
    const camera = crowdCamera(join(scratch, `crowd-${count}.y4m`), count);
    const one = pipelines.includes('one') ? await runCrowd(origin, camera, deploymentArgs, false) : null;
    const two = pipelines.includes('two') ? await runCrowd(origin, camera, deploymentArgs, true) : null;
    for (const result of [one, two].filter(Boolean)) {
      const alert = result.first_frame_to_alert_ms;
      console.log(`  crowd of ${String(count).padStart(2)}, ${result.workers === 2 ? 'two Workers' : 'one Worker '}: ${result.fps_in_view.toFixed(1)} frames/s while in view (${result.fps.toFixed(1)} overall), ${result.faces_per_frame.toFixed(1)} faces a frame, `
        + `${result.faces_embedded_per_s?.toFixed(1) ?? 'all'} embedded/s of ${result.faces_processed_per_s.toFixed(1)} processed/s (${result.faces_rejected_per_s.toFixed(1)}/s rejected by the quality gate); `
        + `${(result.full_detection_share * 100).toFixed(0)} % of frames detected at the full input; `
        + `first frame to alert (local custody, ${result.alerts} alerts) ${alert ? `median ${alert.median.toFixed(0)} ms, max ${alert.max.toFixed(0)} ms` : 'none'}`);
    }
    if (one && two) {
      console.log(`  crowd of ${String(count).padStart(2)}: two Workers / one, frames/s while in view ×${(two.fps_in_view / one.fps_in_view).toFixed(2)}`);
    }
    crowd.faces[count] = two ?? one;
    if (one && two) crowd.one_worker[count] = one;
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
