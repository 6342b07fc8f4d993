// The camera view: the frame the engine just processed, each tracked face boxed and labelled. Style
// and words both carry the meaning (colour is never the only signal): an alerted track is red and
// says ALERT, a face below the quality gates is grey, dashed and says why it was not matched.

/**
 * Draws `video`'s current picture on `canvas` at the processed frame's size, with `faces`
 * (`{box, track, quality}` from processFrame); tracks in `alertTracks` are marked as alerts. Puts a
 * text summary in `summary` for screen readers.
 */
export function drawFaces(canvas, video, { faces, width, height }, alertTracks, summary) {
  if (canvas.width !== width || canvas.height !== height) {
    canvas.width = width;
    canvas.height = height;
  }
  const ctx = canvas.getContext('2d');
  ctx.drawImage(video, 0, 0, width, height);
  ctx.lineWidth = 3;
  ctx.font = '600 16px system-ui, sans-serif';
  for (const face of faces) {
    const [x, y, w, h] = face.box;
    const alerted = alertTracks.has(face.track);
    const gated = face.quality.rejections.length > 0;
    const colour = alerted ? '#ff3b30' : gated ? '#9aa0a6' : '#ffd400';
    const label = alerted
      ? `track ${face.track} · ALERT, awaiting review`
      : gated ? `track ${face.track} · not matched (${face.quality.rejections.join(', ').replaceAll('_', ' ')})` : `track ${face.track}`;
    ctx.setLineDash(gated ? [8, 6] : []);
    ctx.strokeStyle = colour;
    ctx.strokeRect(x, y, w, h);
    ctx.setLineDash([]);
    const tw = ctx.measureText(label).width + 10;
    ctx.fillStyle = colour;
    ctx.fillRect(x, Math.max(0, y - 22), tw, 22);
    ctx.fillStyle = '#000';
    ctx.fillText(label, x + 5, Math.max(16, y - 6));
  }
  summary.textContent = faces.length === 0 ? 'No face in view.' : `${faces.length} face${faces.length > 1 ? 's' : ''} in view.`;
}
