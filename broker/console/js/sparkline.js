// A tiny inline SVG line of the last samples of a number (a queue's depth), so a filling or
// draining queue is visible without reading digits.

const NS = "http://www.w3.org/2000/svg";
const W = 56;
const H = 18;

export function sparkline() {
  const svg = document.createElementNS(NS, "svg");
  svg.setAttribute("class", "spark");
  svg.setAttribute("viewBox", `0 0 ${W} ${H}`);
  svg.setAttribute("width", W);
  svg.setAttribute("height", H);
  svg.setAttribute("aria-hidden", "true");
  const line = document.createElementNS(NS, "polyline");
  svg.append(line);
  return svg;
}

// Redraws `svg` from `samples` (oldest first; at most `capacity` of them are shown).
export function drawSparkline(svg, samples, capacity = 30) {
  const line = svg.firstChild;
  if (samples.length < 2) {
    line.setAttribute("points", "");
    return;
  }
  const max = Math.max(1, ...samples);
  const step = W / (capacity - 1);
  const x0 = W - step * (samples.length - 1);
  const points = samples.map((v, i) =>
    `${(x0 + i * step).toFixed(1)},${(H - 1 - (v / max) * (H - 2)).toFixed(1)}`);
  line.setAttribute("points", points.join(" "));
}

// Per-key sample history, trimmed to `capacity`.
export class History {
  constructor(capacity = 30) {
    this.capacity = capacity;
    this.series = new Map();
  }
  add(key, value) {
    let s = this.series.get(key);
    if (!s) this.series.set(key, (s = []));
    s.push(value);
    if (s.length > this.capacity) s.shift();
    return s;
  }
}
