// Endpoint event filters: AMQP topic patterns over the event type (the routing key), e.g.
// "decision.#" (every decision), "decision.*.declined", "card.activated". An empty filter
// matches every event.

/** `*` matches one dot-separated word, `#` zero or more. */
export function matchesPattern(pattern: string, event_type: string): boolean {
  const want = pattern.split('.');
  const have = event_type.split('.');
  const match = (i: number, j: number): boolean => {
    if (i === want.length) return j === have.length;
    if (want[i] === '#') {
      for (let k = j; k <= have.length; k++) if (match(i + 1, k)) return true;
      return false;
    }
    return j < have.length && (want[i] === '*' || want[i] === have[j]) && match(i + 1, j + 1);
  };
  return match(0, 0);
}

export function endpointWants(event_types: readonly string[], event_type: string): boolean {
  return event_types.length === 0 || event_types.some((pattern) => matchesPattern(pattern, event_type));
}
