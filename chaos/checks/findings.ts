// What a check found: counts per kind, with a few examples each. A run passes when no check
// found anything of a failing kind; "explained" kinds are reported but do not fail a run.

const EXAMPLES_MAX = 5;

export interface Finding {
  count: number;
  readonly examples: string[];
}

export class Findings {
  /** Kinds that break a promise: the run fails. */
  readonly failures: Record<string, Finding> = {};
  /** Kinds the suite can explain by an injected fault; reported, never hidden. */
  readonly explained: Record<string, Finding> = {};

  fail(kind: string, example: string): void {
    Findings.#add(this.failures, kind, example);
  }

  explain(kind: string, example: string): void {
    Findings.#add(this.explained, kind, example);
  }

  get failure_count(): number {
    return Object.values(this.failures).reduce((sum, f) => sum + f.count, 0);
  }

  static #add(into: Record<string, Finding>, kind: string, example: string): void {
    const finding = into[kind] ?? { count: 0, examples: [] };
    into[kind] = finding;
    finding.count++;
    if (finding.examples.length < EXAMPLES_MAX) finding.examples.push(example);
  }
}
