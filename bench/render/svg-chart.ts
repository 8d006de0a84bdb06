// A small SVG line chart (no dependency): linear or log axes, one polyline per series, a
// legend. Enough for latency distributions and time series; rendered to PNG by resvg.

export interface Series {
  readonly name: string;
  readonly points: ReadonlyArray<readonly [number, number]>;
}

export interface ChartOptions {
  readonly title: string;
  readonly x_label: string;
  readonly y_label: string;
  readonly series: readonly Series[];
  readonly x_log?: boolean;
  readonly y_log?: boolean;
  /** Custom tick labels for the x axis (value -> text), e.g. percentiles. */
  readonly x_ticks?: ReadonlyArray<readonly [number, string]>;
  readonly width?: number;
  readonly height?: number;
}

const COLORS = [
  '#1f77b4',
  '#d62728',
  '#2ca02c',
  '#ff7f0e',
  '#9467bd',
  '#8c564b',
  '#e377c2',
  '#17becf',
  '#7f7f7f',
  '#bcbd22',
];
const FONT = 'font-family="DejaVu Sans, Arial, sans-serif"';
const MARGIN = { left: 70, right: 20, top: 40, bottom: 50 };
const LEGEND_ROW_PX = 16;

function escapeXml(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

function niceTicks(min: number, max: number, count: number): number[] {
  if (max <= min) return [min];
  const raw = (max - min) / count;
  const magnitude = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * magnitude).find((s) => s >= raw) ?? raw;
  const ticks: number[] = [];
  for (let v = Math.ceil(min / step) * step; v <= max + step * 1e-9; v += step)
    ticks.push(Number(v.toPrecision(12)));
  return ticks;
}

function logTicks(min: number, max: number): number[] {
  const ticks: number[] = [];
  for (let exp = Math.floor(Math.log10(min)); exp <= Math.ceil(Math.log10(max)); exp++) ticks.push(10 ** exp);
  return ticks;
}

function format(value: number): string {
  if (value === 0) return '0';
  if (Math.abs(value) >= 1000) return `${Number((value / 1000).toPrecision(3))}k`;
  return String(Number(value.toPrecision(3)));
}

export function lineChart(options: ChartOptions): string {
  const width = options.width ?? 900;
  const legend_rows = Math.ceil(options.series.length / 3);
  const height = (options.height ?? 420) + 12 + legend_rows * LEGEND_ROW_PX;
  const plot_w = width - MARGIN.left - MARGIN.right;
  const plot_h = height - MARGIN.top - MARGIN.bottom - 12 - legend_rows * LEGEND_ROW_PX;
  const all = options.series
    .flatMap((s) => s.points)
    .filter(([x, y]) => Number.isFinite(x) && Number.isFinite(y));
  const positive = (values: number[]) => values.filter((v) => v > 0);
  const xs = all.map(([x]) => x);
  const ys = all.map(([, y]) => y);
  const x_values = options.x_log ? positive(xs) : xs;
  const y_values = options.y_log ? positive(ys) : ys;
  let x_min = x_values.length ? Math.min(...x_values) : 0;
  let x_max = x_values.length ? Math.max(...x_values) : 1;
  let y_min = options.y_log ? (y_values.length ? Math.min(...y_values) : 0.1) : 0;
  let y_max = y_values.length ? Math.max(...y_values) : 1;
  if (options.y_log) {
    y_min = 10 ** Math.floor(Math.log10(y_min));
    y_max = 10 ** Math.ceil(Math.log10(y_max));
  } else {
    y_max = y_max <= 0 ? 1 : y_max * 1.05;
  }
  if (options.x_log) {
    x_min = 10 ** Math.floor(Math.log10(x_min));
    x_max = 10 ** Math.ceil(Math.log10(x_max));
  }
  if (x_max === x_min) x_max = x_min + 1;
  if (y_max === y_min) y_max = y_min + 1;
  const scale = (value: number, min: number, max: number, log: boolean | undefined) =>
    log
      ? (Math.log10(value) - Math.log10(min)) / (Math.log10(max) - Math.log10(min))
      : (value - min) / (max - min);
  const px = (x: number) => MARGIN.left + scale(x, x_min, x_max, options.x_log) * plot_w;
  const py = (y: number) => MARGIN.top + plot_h - scale(y, y_min, y_max, options.y_log) * plot_h;

  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}">`,
    `<rect width="${width}" height="${height}" fill="white"/>`,
    `<text x="${width / 2}" y="22" text-anchor="middle" font-size="16" ${FONT}>${escapeXml(options.title)}</text>`,
  ];
  const x_ticks: ReadonlyArray<readonly [number, string]> =
    options.x_ticks ??
    (options.x_log ? logTicks(x_min, x_max) : niceTicks(x_min, x_max, 8)).map((v) => [v, format(v)] as const);
  for (const [value, label] of x_ticks) {
    if (value < x_min || value > x_max) continue;
    const x = px(value);
    parts.push(`<line x1="${x}" y1="${MARGIN.top}" x2="${x}" y2="${MARGIN.top + plot_h}" stroke="#e5e5e5"/>`);
    parts.push(
      `<text x="${x}" y="${MARGIN.top + plot_h + 16}" text-anchor="middle" font-size="11" ${FONT}>${escapeXml(label)}</text>`,
    );
  }
  for (const value of options.y_log ? logTicks(y_min, y_max) : niceTicks(y_min, y_max, 6)) {
    if (value < y_min || value > y_max) continue;
    const y = py(value);
    parts.push(
      `<line x1="${MARGIN.left}" y1="${y}" x2="${MARGIN.left + plot_w}" y2="${y}" stroke="#e5e5e5"/>`,
    );
    parts.push(
      `<text x="${MARGIN.left - 6}" y="${y + 4}" text-anchor="end" font-size="11" ${FONT}>${format(value)}</text>`,
    );
  }
  parts.push(
    `<rect x="${MARGIN.left}" y="${MARGIN.top}" width="${plot_w}" height="${plot_h}" fill="none" stroke="#888"/>`,
    `<text x="${MARGIN.left + plot_w / 2}" y="${MARGIN.top + plot_h + 36}" text-anchor="middle" font-size="12" ${FONT}>${escapeXml(options.x_label)}</text>`,
    `<text transform="translate(16 ${MARGIN.top + plot_h / 2}) rotate(-90)" text-anchor="middle" font-size="12" ${FONT}>${escapeXml(options.y_label)}</text>`,
  );
  options.series.forEach((series, i) => {
    const color = COLORS[i % COLORS.length]!;
    const points = series.points
      .filter(
        ([x, y]) =>
          Number.isFinite(x) && Number.isFinite(y) && (!options.x_log || x > 0) && (!options.y_log || y > 0),
      )
      .map(([x, y]) => `${px(x).toFixed(1)},${py(y).toFixed(1)}`);
    if (points.length > 0) {
      parts.push(`<polyline fill="none" stroke="${color}" stroke-width="1.8" points="${points.join(' ')}"/>`);
    }
    const column = i % 3;
    const row = Math.floor(i / 3);
    const lx = MARGIN.left + column * (plot_w / 3);
    const ly = MARGIN.top + plot_h + 58 + row * LEGEND_ROW_PX;
    parts.push(`<rect x="${lx}" y="${ly - 9}" width="12" height="4" fill="${color}"/>`);
    parts.push(`<text x="${lx + 16}" y="${ly - 4}" font-size="11" ${FONT}>${escapeXml(series.name)}</text>`);
  });
  parts.push('</svg>');
  return parts.join('\n');
}
