// Reads the gateway's /metrics (Prometheus text format) for what only the gateway knows: cache
// hits and misses, and relay lag as seen by the relay. Deltas between two scrapes give one
// phase's figures.

import { request } from 'undici';

export type Samples = ReadonlyMap<string, number>;

const SCRAPE_TIMEOUT_MS = 2_000;

/** `name{labels} value` lines into a map keyed by `name{labels}` (labels as printed). */
export function parsePrometheus(text: string): Map<string, number> {
  const samples = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const space = line.lastIndexOf(' ');
    const value = Number(line.slice(space + 1));
    if (!Number.isNaN(value)) samples.set(line.slice(0, space), value);
  }
  return samples;
}

/** Null when the process has no /metrics (or it failed): the caller falls back. */
export async function scrape(url: string): Promise<Samples | null> {
  try {
    const response = await request(url, {
      headersTimeout: SCRAPE_TIMEOUT_MS,
      bodyTimeout: SCRAPE_TIMEOUT_MS,
    });
    const text = await response.body.text();
    return response.statusCode === 200 ? parsePrometheus(text) : null;
  } catch {
    return null;
  }
}

/** Sum of every series of `name` whose labels include all of `labels` (e.g. 'result="hit"'). */
export function total(samples: Samples, name: string, labels: readonly string[] = []): number {
  let sum = 0;
  for (const [key, value] of samples) {
    const brace = key.indexOf('{');
    const metric = brace === -1 ? key : key.slice(0, brace);
    if (metric !== name) continue;
    if (labels.every((label) => key.includes(label))) sum += value;
  }
  return sum;
}

/**
 * Quantile of a histogram's delta between two scrapes, from its cumulative buckets: the upper
 * bound of the first bucket reaching the quantile (coarse, as wide as the bucket).
 */
export function histogramQuantile(
  before: Samples,
  after: Samples,
  name: string,
  quantile: number,
  labels: readonly string[] = [],
): number | null {
  const buckets: Array<[number, number]> = [];
  for (const [key, value] of after) {
    if (!key.startsWith(`${name}_bucket{`) || !labels.every((label) => key.includes(label))) continue;
    const le = /le="([^"]+)"/.exec(key)?.[1];
    if (le === undefined) continue;
    buckets.push([le === '+Inf' ? Number.POSITIVE_INFINITY : Number(le), value - (before.get(key) ?? 0)]);
  }
  buckets.sort((a, b) => a[0] - b[0]);
  const count = buckets.at(-1)?.[1] ?? 0;
  if (count <= 0) return null;
  for (const [le, cumulative] of buckets) if (cumulative >= quantile * count) return le;
  return null;
}
