// Seeded randomness for the traffic simulator: runs with the same seed send the same mix,
// so two runs differ by the system under test, not by the dice.

/** mulberry32: tiny, fast, good enough for picking cards and classes (not for secrets). */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

/**
 * Zipf-distributed ranks in [0, n): a few cards are used often, most rarely, as in real card
 * traffic. The cumulative table costs 8 bytes per card (8 MB for 1M cards), sampled by binary search.
 */
export function zipfSampler(n: number, exponent: number, random: () => number): () => number {
  if (!Number.isInteger(n) || n < 1) throw new RangeError(`zipf: n must be a positive integer (got ${n})`);
  const cumulative = new Float64Array(n);
  let sum = 0;
  for (let rank = 0; rank < n; rank++) {
    sum += 1 / (rank + 1) ** exponent;
    cumulative[rank] = sum;
  }
  return () => {
    const target = random() * sum;
    let low = 0;
    let high = n - 1;
    while (low < high) {
      const middle = (low + high) >>> 1;
      if (cumulative[middle]! < target) low = middle + 1;
      else high = middle;
    }
    return low;
  };
}

/** Picks a key of `weights` with probability proportional to its weight. */
export function weightedPicker<K extends string>(
  weights: Readonly<Record<K, number>>,
  random: () => number,
): () => K {
  const entries = (Object.entries(weights) as Array<[K, number]>).filter(([, weight]) => weight > 0);
  const total = entries.reduce((sum, [, weight]) => sum + weight, 0);
  if (entries.length === 0 || total <= 0) throw new RangeError('weightedPicker: no positive weight');
  return () => {
    let point = random() * total;
    for (const [key, weight] of entries) {
      point -= weight;
      if (point < 0) return key;
    }
    return entries[entries.length - 1]![0];
  };
}
