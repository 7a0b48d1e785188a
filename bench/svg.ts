/**
 * @module Line charts as hand-written SVG (no dependencies): log or linear axes, one polyline per series
 * with its points, optional min–max whiskers, horizontal reference lines, a legend.
 */

export interface ChartPoint {
  x: number;
  y: number;
  lo?: number;
  hi?: number;
}

export interface ChartSeries {
  name: string;
  points: ChartPoint[];
  dashed?: boolean;
  /** Palette index (default: the series' position). */
  colour?: number;
}

export interface Chart {
  title: string;
  xLabel: string;
  yLabel: string;
  xLog?: boolean;
  yLog?: boolean;
  xTicks?: number[];
  series: ChartSeries[];
  hlines?: { y: number; label: string }[];
  yMin?: number;
  yMax?: number;
}

const COLOURS = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#17becf"];
const W = 760, H = 440, L = 80, R = 200, T = 40, B = 60;

const esc = (s: string) => s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");

function niceTicks(lo: number, hi: number, log: boolean): number[] {
  if (log) {
    const out: number[] = [];
    for (let e = Math.floor(Math.log10(lo)); e <= Math.ceil(Math.log10(hi)); e++) {
      for (const m of [1, 2, 5]) {
        const v = m * 10 ** e;
        if (v >= lo * 0.999 && v <= hi * 1.001) out.push(v);
      }
    }
    return out;
  }
  const span = hi - lo || 1;
  const step = 10 ** Math.floor(Math.log10(span / 5));
  const mult = [1, 2, 5, 10].find((m) => span / (m * step) <= 6) ?? 10;
  const s = mult * step;
  const out: number[] = [];
  for (let v = Math.ceil(lo / s) * s; v <= hi + 1e-9; v += s) out.push(Number(v.toPrecision(12)));
  return out;
}

function label(v: number): string {
  if (v >= 1e6) return `${+(v / 1e6).toPrecision(3)}M`;
  if (v >= 1e3) return `${+(v / 1e3).toPrecision(3)}k`;
  return `${+v.toPrecision(3)}`;
}

export function lineChart(c: Chart): string {
  const pts = c.series.flatMap((s) => s.points);
  const ys = [...pts.flatMap((p) => [p.y, p.lo ?? p.y, p.hi ?? p.y]), ...(c.hlines ?? []).map((h) => h.y)].filter((v) => Number.isFinite(v) && (!c.yLog || v > 0));
  const xs = [...pts.map((p) => p.x), ...(c.xTicks ?? [])].filter((v) => Number.isFinite(v));
  let x0 = Math.min(...xs), x1 = Math.max(...xs);
  let y0 = c.yMin ?? (c.yLog ? Math.min(...ys) / 1.3 : 0), y1 = c.yMax ?? Math.max(...ys) * (c.yLog ? 1.5 : 1.1);
  if (x0 === x1) { x0 -= 1; x1 += 1; }
  if (y0 === y1) y1 = y0 + 1;
  const fx = (x: number) => L + ((c.xLog ? Math.log(x / x0) / Math.log(x1 / x0) : (x - x0) / (x1 - x0)) * (W - L - R));
  const fy = (y: number) => H - B - ((c.yLog ? Math.log(Math.max(y, y0) / y0) / Math.log(y1 / y0) : (y - y0) / (y1 - y0)) * (H - T - B));
  const out: string[] = [];
  out.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="12">`);
  out.push(`<rect width="${W}" height="${H}" fill="white"/>`);
  out.push(`<text x="${L}" y="${T - 16}" font-size="15" font-weight="bold">${esc(c.title)}</text>`);
  // axes and grid
  for (const t of c.xTicks ?? niceTicks(x0, x1, !!c.xLog)) {
    const x = fx(t).toFixed(1);
    out.push(`<line x1="${x}" y1="${T}" x2="${x}" y2="${H - B}" stroke="#e5e5e5"/>`);
    out.push(`<text x="${x}" y="${H - B + 16}" text-anchor="middle">${label(t)}</text>`);
  }
  for (const t of niceTicks(y0, y1, !!c.yLog)) {
    const y = fy(t).toFixed(1);
    out.push(`<line x1="${L}" y1="${y}" x2="${W - R}" y2="${y}" stroke="#e5e5e5"/>`);
    out.push(`<text x="${L - 6}" y="${(+y + 4).toFixed(1)}" text-anchor="end">${label(t)}</text>`);
  }
  out.push(`<line x1="${L}" y1="${H - B}" x2="${W - R}" y2="${H - B}" stroke="#333"/>`);
  out.push(`<line x1="${L}" y1="${T}" x2="${L}" y2="${H - B}" stroke="#333"/>`);
  out.push(`<text x="${(L + W - R) / 2}" y="${H - 18}" text-anchor="middle">${esc(c.xLabel)}</text>`);
  out.push(`<text transform="translate(18 ${(T + H - B) / 2}) rotate(-90)" text-anchor="middle">${esc(c.yLabel)}</text>`);
  for (const h of c.hlines ?? []) {
    const y = fy(h.y).toFixed(1);
    out.push(`<line x1="${L}" y1="${y}" x2="${W - R}" y2="${y}" stroke="#777" stroke-dasharray="6 4"/>`);
    out.push(`<text x="${W - R - 4}" y="${(+y - 5).toFixed(1)}" text-anchor="end" fill="#555">${esc(h.label)}</text>`);
  }
  c.series.forEach((s, i) => {
    const colour = COLOURS[(s.colour ?? i) % COLOURS.length]!;
    const p = s.points.filter((q) => Number.isFinite(q.y) && (!c.yLog || q.y > 0));
    if (p.length > 1) {
      out.push(`<polyline fill="none" stroke="${colour}" stroke-width="2"${s.dashed ? ' stroke-dasharray="4 3"' : ""} points="${p.map((q) => `${fx(q.x).toFixed(1)},${fy(q.y).toFixed(1)}`).join(" ")}"/>`);
    }
    for (const q of p) {
      const x = fx(q.x).toFixed(1);
      if (q.lo !== undefined && q.hi !== undefined && q.hi > q.lo) {
        out.push(`<line x1="${x}" y1="${fy(q.lo).toFixed(1)}" x2="${x}" y2="${fy(q.hi).toFixed(1)}" stroke="${colour}"/>`);
      }
      out.push(`<circle cx="${x}" cy="${fy(q.y).toFixed(1)}" r="3.5" fill="${colour}"/>`);
    }
    const ly = T + 10 + i * 20;
    out.push(`<line x1="${W - R + 14}" y1="${ly}" x2="${W - R + 38}" y2="${ly}" stroke="${colour}" stroke-width="2"${s.dashed ? ' stroke-dasharray="4 3"' : ""}/>`);
    out.push(`<text x="${W - R + 44}" y="${ly + 4}">${esc(s.name)}</text>`);
  });
  out.push("</svg>");
  return out.join("\n") + "\n";
}
