/**
 * @module The report's line charts: a Vega-Lite spec per chart (log or linear axes, one line per series
 * with its points, optional min–max error bars, horizontal reference lines with labels, a legend),
 * compiled to Vega and rendered to SVG headless (renderer "none": no DOM and no canvas; without the
 * optional `canvas` package Vega estimates text widths).
 */
import { parse, View } from "vega";
import { compile, type TopLevelSpec } from "vega-lite";

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
  /** Horizontal reference lines; the label sits above the line at its right end unless `labelLeft`. */
  hlines?: { y: number; label: string; labelLeft?: boolean }[];
  yMin?: number;
  yMax?: number;
  /** Draw a point at each value (default true; off for long time series). */
  points?: boolean;
  /** d3-format of the y axis' labels (default "~s": 1k, 500m). */
  yFormat?: string;
  /** Plot-area height (default HEIGHT). */
  height?: number;
}

const COLOURS = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#17becf"];
/** The plot area (the title, axes and legend come on top of it). */
const WIDTH = 520, HEIGHT = 340;

/** 1, 2 and 5 times the powers of ten within [lo, hi]: the ticks of a log axis. */
function logTicks(lo: number, hi: number): number[] {
  const out: number[] = [];
  for (let e = Math.floor(Math.log10(lo)); e <= Math.ceil(Math.log10(hi)); e++) {
    for (const m of [1, 2, 5]) {
      const v = m * 10 ** e;
      if (v >= lo * 0.999 && v <= hi * 1.001) out.push(v);
    }
  }
  return out;
}

/** The Vega-Lite spec of a chart. */
export function chartSpec(c: Chart): TopLevelSpec {
  const usable = (v: number | undefined, log?: boolean): v is number => v !== undefined && Number.isFinite(v) && (!log || v > 0);
  const rows = c.series.flatMap((s) => s.points.filter((q) => usable(q.x, c.xLog) && usable(q.y, c.yLog)).map((q) => ({
    series: s.name, x: q.x, y: q.y,
    lo: usable(q.lo, c.yLog) && usable(q.hi, c.yLog) && q.hi! > q.lo! ? q.lo : null,
    hi: usable(q.lo, c.yLog) && usable(q.hi, c.yLog) && q.hi! > q.lo! ? q.hi : null,
  })));
  const hlines = (c.hlines ?? []).filter((h) => usable(h.y, c.yLog));
  const xs = [...rows.map((q) => q.x), ...(c.xTicks ?? [])];
  const ys = [...rows.flatMap((q) => [q.y, q.lo ?? q.y, q.hi ?? q.y]), ...hlines.map((h) => h.y)];
  if (!xs.length) xs.push(1, 10);
  if (!ys.length) ys.push(1, 10);
  let x0 = Math.min(...xs), x1 = Math.max(...xs);
  if (!(x0 < x1)) { x0 = c.xLog ? x0 / 2 : x0 - 1; x1 = c.xLog ? x1 * 2 : x1 + 1; }
  let y0 = c.yMin ?? (c.yLog ? Math.min(...ys) / 1.3 : 0), y1 = c.yMax ?? Math.max(...ys) * (c.yLog ? 1.5 : 1.1);
  if (!(y0 < y1)) y1 = c.yLog ? y0 * 10 : y0 + 1;

  const names = c.series.map((s) => s.name);
  const x = {
    field: "x", type: "quantitative", title: c.xLabel,
    scale: { type: c.xLog ? "log" : "linear", domain: [x0, x1], nice: false, padding: 8 },
    axis: { values: c.xTicks ?? (c.xLog ? logTicks(x0, x1) : undefined), format: "~s", grid: true },
  } as const;
  const yScale = c.yLog ? { type: "log", domain: [y0, y1], nice: false } : { type: "linear", domain: [y0, y1], nice: true };
  const yAxis = { values: c.yLog ? logTicks(y0, y1) : undefined, format: c.yFormat ?? "~s", grid: true };
  const colour = {
    field: "series", type: "nominal", title: null, sort: names,
    scale: { domain: names, range: c.series.map((s, i) => COLOURS[(s.colour ?? i) % COLOURS.length]!) },
    legend: { orient: "right", symbolType: "stroke", symbolStrokeWidth: 2, symbolSize: 300, labelLimit: 260 },
  } as const;
  const dash = {
    field: "series", type: "nominal", title: null, sort: names,
    scale: { domain: names, range: c.series.map((s) => (s.dashed ? [4, 3] : [1, 0])) },
  } as const;

  return {
    $schema: "https://vega.github.io/schema/vega-lite/v6.json",
    title: { text: c.title, anchor: "start", fontSize: 15 },
    width: WIDTH, height: c.height ?? HEIGHT, background: "white", padding: 12,
    config: { font: "sans-serif", axis: { labelFontSize: 12, titleFontSize: 12, titleFontWeight: "normal", gridColor: "#e5e5e5", domainColor: "#333" }, legend: { labelFontSize: 12 }, view: { stroke: null } },
    layer: [
      // min–max error bars
      {
        data: { values: rows }, transform: [{ filter: "datum.lo != null && datum.hi != null" }],
        mark: { type: "rule", strokeWidth: 1.5, clip: true },
        encoding: { x, y: { field: "lo", type: "quantitative", scale: yScale, axis: yAxis, title: c.yLabel }, y2: { field: "hi" }, color: colour },
      },
      // one line per series, with its points
      {
        data: { values: rows },
        mark: { type: "line", strokeWidth: c.points === false ? 1.25 : 2, clip: true, point: c.points === false ? false : { filled: true, size: 45 } },
        encoding: { x, y: { field: "y", type: "quantitative", scale: yScale, axis: yAxis, title: c.yLabel }, color: colour, strokeDash: dash },
      },
      // horizontal reference lines and their labels
      ...(hlines.length ? [
        {
          data: { values: hlines },
          mark: { type: "rule", color: "#777", strokeDash: [6, 4], strokeWidth: 1 },
          encoding: { y: { field: "y", type: "quantitative" } },
        },
        ...[false, true].flatMap((left) => {
          const values = hlines.filter((h) => !!h.labelLeft === left);
          return values.length ? [{
            data: { values },
            mark: { type: "text", align: left ? "left" : "right", baseline: "bottom", dx: left ? 4 : -4, dy: -3, color: "#555", fontSize: 12 },
            encoding: { y: { field: "y", type: "quantitative" }, x: { value: left ? 0 : "width" }, text: { field: "label" } },
          }] : [];
        }),
      ] : []),
    ],
  } as TopLevelSpec;
}

/** The chart as a standalone SVG document. */
export async function lineChart(c: Chart): Promise<string> {
  return render(chartSpec(c));
}

/** Several charts one above the other in one SVG document, each with its own scales and legend. */
export async function stackedCharts(cs: Chart[]): Promise<string> {
  const specs = cs.map((c) => {
    const { $schema, config, background, padding, ...rest } = chartSpec(c) as unknown as Record<string, unknown>;
    return rest;
  });
  const first = chartSpec(cs[0]!) as unknown as Record<string, unknown>;
  return render({
    $schema: first.$schema, config: first.config, background: first.background, padding: first.padding, spacing: 28,
    vconcat: specs, resolve: { scale: { color: "independent", strokeDash: "independent", x: "independent", y: "independent" }, legend: { color: "independent", strokeDash: "independent" } },
  } as unknown as TopLevelSpec);
}

async function render(top: TopLevelSpec): Promise<string> {
  const { spec } = compile(top);
  const view = new View(parse(spec), { renderer: "none" });
  try {
    return (await view.toSVG()) + "\n";
  } finally {
    view.finalize();
  }
}
