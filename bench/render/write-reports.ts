// Writes one run's reports: bench/RESULTS.md, bench/report/index.html, results.json, and each
// chart as SVG and PNG (rendered by resvg with the system fonts).

import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Resvg } from '@resvg/resvg-js';
import { buildCharts } from './charts.ts';
import { renderHtml, renderMarkdown } from './documents.ts';
import type { BenchResults } from './results.ts';

export async function writeReports(
  report_dir: string,
  results_md: string,
  results: BenchResults,
): Promise<string[]> {
  const charts = buildCharts(results);
  const written: string[] = [];
  const write = (path: string, content: string | Buffer) => {
    writeFileSync(path, content);
    written.push(path.slice(path.indexOf('bench/')));
  };
  write(join(report_dir, 'results.json'), `${JSON.stringify(results, null, 1)}\n`);
  for (const chart of charts) {
    write(join(report_dir, chart.file), chart.svg);
    const png = new Resvg(chart.svg, { font: { loadSystemFonts: true, defaultFontFamily: 'DejaVu Sans' } })
      .render()
      .asPng();
    write(join(report_dir, chart.file.replace(/\.svg$/, '.png')), png);
  }
  write(join(report_dir, 'index.html'), renderHtml(results, charts));
  write(results_md, renderMarkdown(results, charts));
  return written;
}
