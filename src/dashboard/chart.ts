// The live rate chart: messages per second over the last minute, all followed topics and
// the busiest few, drawn on a canvas (no chart library to ship).

import type { Rates } from './rates.js';

export const COLOURS = ['#4fb3ff', '#3ccf7e', '#ffb84f', '#d77cff', '#ff6b6b'];

/** Draws the total and up to four topics (the busiest); returns the topics drawn, in colour order. */
export function drawChart(canvas: HTMLCanvasElement, rates: Rates): string[] {
  const scale = window.devicePixelRatio || 1;
  const width = canvas.clientWidth * scale;
  const height = canvas.clientHeight * scale;
  if (canvas.width !== width || canvas.height !== height) {
    canvas.width = width;
    canvas.height = height;
  }
  const context = canvas.getContext('2d');
  if (context === null) return [];
  const busiest = rates
    .topics()
    .sort((a, b) => rates.perSecond(b) - rates.perSecond(a))
    .slice(0, COLOURS.length - 1);
  const lines = [{ label: 'all', values: rates.history() }, ...busiest.map((topic) => ({ label: topic, values: rates.history(topic) }))];
  const peak = Math.max(1, ...lines[0].values);
  const pad = 28 * scale;
  context.clearRect(0, 0, width, height);
  context.strokeStyle = '#2a3542';
  context.fillStyle = '#7d8a99';
  context.font = `${11 * scale}px system-ui`;
  context.lineWidth = scale;
  for (const fraction of [0, 0.5, 1]) {
    const y = height - pad / 2 - fraction * (height - pad);
    context.beginPath();
    context.moveTo(pad, y);
    context.lineTo(width, y);
    context.stroke();
    context.fillText(String(Math.round(peak * fraction)), 0, y + 4 * scale);
  }
  lines.forEach((line, index) => {
    context.strokeStyle = COLOURS[index];
    context.lineWidth = (index === 0 ? 2 : 1.5) * scale;
    context.beginPath();
    line.values.forEach((value, i) => {
      const x = pad + (i / Math.max(1, line.values.length - 1)) * (width - pad);
      const y = height - pad / 2 - (value / peak) * (height - pad);
      if (i === 0) context.moveTo(x, y);
      else context.lineTo(x, y);
    });
    context.stroke();
  });
  return ['all', ...busiest];
}
