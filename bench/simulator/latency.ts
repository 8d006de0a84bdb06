// Latency recording with HDR histograms (microsecond resolution, 3 significant digits, up to
// 60 s), summarized in milliseconds for reports.

import * as hdr from 'hdr-histogram-js';

export type Histogram = hdr.Histogram;

const HIGHEST_TRACKABLE_US = 60_000_000;

export function newHistogram(significant_digits: 1 | 2 | 3 = 3): Histogram {
  return hdr.build({
    bitBucketSize: 32,
    lowestDiscernibleValue: 1,
    highestTrackableValue: HIGHEST_TRACKABLE_US,
    numberOfSignificantValueDigits: significant_digits,
  });
}

export function recordMs(histogram: Histogram, latency_ms: number): void {
  histogram.recordValue(Math.min(HIGHEST_TRACKABLE_US, Math.max(1, Math.round(latency_ms * 1000))));
}

export interface LatencySummary {
  readonly count: number;
  readonly mean_ms: number;
  readonly p50_ms: number;
  readonly p90_ms: number;
  readonly p99_ms: number;
  readonly p999_ms: number;
  readonly max_ms: number;
}

/** Percentiles drawn in the latency distribution chart. */
export const DISTRIBUTION_PERCENTILES = [0, 25, 50, 75, 90, 95, 99, 99.5, 99.9, 99.99, 100] as const;

export function summarize(histogram: Histogram): LatencySummary {
  const at = (p: number) => histogram.getValueAtPercentile(p) / 1000;
  return {
    count: histogram.totalCount,
    mean_ms: histogram.totalCount === 0 ? 0 : histogram.mean / 1000,
    p50_ms: at(50),
    p90_ms: at(90),
    p99_ms: at(99),
    p999_ms: at(99.9),
    max_ms: histogram.maxValue / 1000,
  };
}

/** [percentile, latency_ms] points of the whole distribution. */
export function distribution(histogram: Histogram): Array<[number, number]> {
  return DISTRIBUTION_PERCENTILES.map((p) => [p, histogram.getValueAtPercentile(p) / 1000]);
}
