// The capacity model's check (docs/capacity.md): a process's cores at a rate are the rate times its
// CPU microseconds per decision. From a configuration measured as the model's input (twice, before
// and after, so the run shows its own noise), predict the cores of another configuration measured
// in between at its own rate, and set the measured cores beside the prediction.

export interface ConfigurationUsage {
  readonly name: string;
  readonly decisions_per_s: number;
  /** Mean CPU % of each process group over the measurement (100 = one core). */
  readonly cpu_percent: Readonly<Record<string, number>>;
}

/** The spread below which two measurements of the same thing are not told apart, whatever the run's noise. */
export const TOLERANCE_FLOOR = 0.1;

export function usPerDecision(usage: ConfigurationUsage, group: string): number | null {
  if (usage.decisions_per_s <= 0) return null;
  return (((usage.cpu_percent[group] ?? 0) / 100) * 1e6) / usage.decisions_per_s;
}

export interface ModelCheck {
  readonly group: string;
  /** The input configuration's microseconds per decision (mean of its two measurements). */
  readonly input_us: number;
  readonly predicted_cores: number;
  readonly measured_cores: number;
  /** measured / predicted; null when nothing was predicted. */
  readonly ratio: number | null;
  /** Relative spread of the input's two measurements: |a - b| / mean. */
  readonly noise: number;
  /** |ratio - 1| within max(noise, TOLERANCE_FLOOR); null without a ratio. */
  readonly within_noise: boolean | null;
}

export function checkModel(
  input: ConfigurationUsage,
  input_again: ConfigurationUsage,
  checked: ConfigurationUsage,
  groups: readonly string[],
): ModelCheck[] {
  return groups.map((group) => {
    const a = usPerDecision(input, group) ?? 0;
    const b = usPerDecision(input_again, group) ?? 0;
    const input_us = (a + b) / 2;
    const noise = input_us > 0 ? Math.abs(a - b) / input_us : 0;
    const predicted_cores = (checked.decisions_per_s * input_us) / 1e6;
    const measured_cores = (checked.cpu_percent[group] ?? 0) / 100;
    const ratio = predicted_cores > 0 ? measured_cores / predicted_cores : null;
    return {
      group,
      input_us,
      predicted_cores,
      measured_cores,
      ratio,
      noise,
      within_noise: ratio === null ? null : Math.abs(ratio - 1) <= Math.max(noise, TOLERANCE_FLOOR),
    };
  });
}
