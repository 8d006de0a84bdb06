// Failure injection for the fake Marqeta server. A fault matches requests by path prefix
// (relative to the base path, e.g. "/cards") and optionally by method, and applies to the
// next `count` matching requests:
//   slow   wait delay_ms, then answer normally (a client timeout shorter than that times out)
//   429    answer 429 with Retry-After: retry_after_s (when given)
//   500    answer 500
//   503    answer 503 with Retry-After: retry_after_s (when given)
//   reset  destroy the connection without an answer (a network error for the client)
// phase "before" (default) fails the request before it is handled; "after" handles it (the
// object is created) and then fails the answer: the lost-response case that makes a client
// retry a create that already happened.

import Type, { type Static } from 'typebox';

/** Upper bounds, so a typo cannot hang the fake for hours. */
export const FAULT_DELAY_MS_MAX = 60_000;
export const FAULT_COUNT_MAX = 10_000;
export const FAULTS_MAX = 100;

export const FaultSchema = Type.Object(
  {
    path_prefix: Type.String({ minLength: 1, maxLength: 200, pattern: '^/' }),
    method: Type.Optional(Type.Union([Type.Literal('GET'), Type.Literal('POST'), Type.Literal('PUT')])),
    mode: Type.Union([
      Type.Literal('slow'),
      Type.Literal('429'),
      Type.Literal('500'),
      Type.Literal('503'),
      Type.Literal('reset'),
    ]),
    count: Type.Integer({ minimum: 1, maximum: FAULT_COUNT_MAX, default: 1 }),
    delay_ms: Type.Integer({ minimum: 0, maximum: FAULT_DELAY_MS_MAX, default: 0 }),
    retry_after_s: Type.Optional(Type.Integer({ minimum: 0, maximum: 3600 })),
    phase: Type.Union([Type.Literal('before'), Type.Literal('after')], { default: 'before' }),
  },
  { additionalProperties: false },
);

export type Fault = Static<typeof FaultSchema>;

interface ActiveFault extends Fault {
  remaining: number;
}

export class FaultPlan {
  #faults: ActiveFault[] = [];

  add(fault: Fault): void {
    if (this.#faults.length >= FAULTS_MAX) this.#faults.shift();
    this.#faults.push({ ...fault, remaining: fault.count });
  }

  clear(): void {
    this.#faults = [];
  }

  /** Takes one use of the first fault matching this request and phase, if any. */
  take(method: string, relative_path: string, phase: Fault['phase']): Fault | undefined {
    const fault = this.#faults.find(
      (f) =>
        f.phase === phase &&
        f.remaining > 0 &&
        (f.method === undefined || f.method === method) &&
        relative_path.startsWith(f.path_prefix),
    );
    if (fault === undefined) return undefined;
    fault.remaining -= 1;
    if (fault.remaining === 0) this.#faults = this.#faults.filter((f) => f !== fault);
    return fault;
  }

  pending(): Array<Fault & { remaining: number }> {
    return this.#faults.map((f) => ({ ...f }));
  }
}
