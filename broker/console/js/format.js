// Number, size, rate, duration and time formatting: what an operator reads at a glance.
// Every function accepts null/undefined and returns "—" for it.

const DASH = "—";
const grouped = new Intl.NumberFormat("en-US");

const missing = (v) => v === null || v === undefined || Number.isNaN(v);

// 1234567 -> "1,234,567"
export function count(n) {
  return missing(n) ? DASH : grouped.format(n);
}

// 950 -> "950", 1234 -> "1.2k", 5600000 -> "5.6M"
export function compact(n) {
  if (missing(n)) return DASH;
  const a = Math.abs(n);
  if (a < 1000) return Number.isInteger(n) ? String(n) : n.toFixed(a < 10 ? 1 : 0);
  const units = [["G", 1e9], ["M", 1e6], ["k", 1e3]];
  for (const [suffix, size] of units) {
    if (a >= size) {
      const v = n / size;
      return (Math.abs(v) < 10 ? v.toFixed(1) : v.toFixed(0)) + suffix;
    }
  }
  return String(n);
}

// messages per second: 0 -> "0/s", 0.25 -> "0.3/s", 12.5 -> "12.5/s", 1234 -> "1.2k/s"
export function rate(perSecond) {
  if (missing(perSecond)) return DASH;
  if (perSecond === 0) return "0/s";
  if (perSecond < 100) return `${perSecond < 10 ? perSecond.toFixed(1) : perSecond.toFixed(0)}/s`;
  return `${compact(perSecond)}/s`;
}

// 3565158 -> "3.4 MiB"
export function bytes(n) {
  if (missing(n)) return DASH;
  if (n < 1024) return `${n} B`;
  const units = ["KiB", "MiB", "GiB", "TiB"];
  let v = n / 1024;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${v < 10 ? v.toFixed(1) : v.toFixed(0)} ${units[i]}`;
}

// 40 -> "40 ms", 5300 -> "5.3 s", 250000 -> "4 min 10 s", 7500000 -> "2 h 5 min"
export function duration(ms) {
  if (missing(ms)) return DASH;
  if (ms < 1000) return `${Math.round(ms)} ms`;
  const s = ms / 1000;
  if (s < 60) return `${s < 10 ? s.toFixed(1) : Math.round(s)} s`;
  const total = Math.floor(s);
  const d = Math.floor(total / 86400);
  const h = Math.floor((total % 86400) / 3600);
  const m = Math.floor((total % 3600) / 60);
  const sec = total % 60;
  if (d > 0) return h ? `${d} d ${h} h` : `${d} d`;
  if (h > 0) return m ? `${h} h ${m} min` : `${h} h`;
  return sec ? `${m} min ${sec} s` : `${m} min`;
}

// An age in ms -> "just now", "5 s ago", "4 min ago"
export function ago(ms) {
  if (missing(ms)) return DASH;
  if (ms < 1500) return "just now";
  if (ms < 60000) return `${Math.round(ms / 1000)} s ago`;
  return `${duration(ms).replace(/ \d+ s$/, "")} ago`;
}

const pad = (n) => String(n).padStart(2, "0");

// Epoch ms -> "14:03:27" today, else "2025-12-05 14:03"
export function clock(epochMs) {
  if (missing(epochMs) || epochMs <= 0) return DASH;
  const t = new Date(epochMs);
  const now = new Date();
  const hms = `${pad(t.getHours())}:${pad(t.getMinutes())}:${pad(t.getSeconds())}`;
  if (t.toDateString() === now.toDateString()) return hms;
  return `${t.getFullYear()}-${pad(t.getMonth() + 1)}-${pad(t.getDate())} ${hms.slice(0, 5)}`;
}

// Epoch ms -> "2025-12-05 14:03:27" (full, for tooltips and details)
export function timestamp(epochMs) {
  if (missing(epochMs) || epochMs <= 0) return DASH;
  const t = new Date(epochMs);
  return `${t.getFullYear()}-${pad(t.getMonth() + 1)}-${pad(t.getDate())} ` +
    `${pad(t.getHours())}:${pad(t.getMinutes())}:${pad(t.getSeconds())}`;
}

// 0.4213 -> "42%"
export function percent(fraction) {
  if (missing(fraction)) return DASH;
  return `${Math.round(fraction * 100)}%`;
}

// "1 message" / "12 messages"
export function plural(n, one, many = `${one}s`) {
  return `${count(n)} ${n === 1 ? one : many}`;
}
