import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { endpointWants, matchesPattern } from '../../shared/webhooks/event-types.ts';
import { nextStep } from '../../worker/webhooks/retry-schedule.ts';
import { signatureHeader, verifyWebhookSignature } from '../../worker/webhooks/signature.ts';

const SECRET = 'whsec_unit_0123456789abcdef';

describe('webhook signatures', () => {
  it('a signature made now verifies, for any body', () => {
    fc.assert(
      fc.property(fc.string(), fc.integer({ min: 1_000_000_000, max: 4_000_000_000 }), (body, now_s) => {
        const header = signatureHeader(body, [SECRET], now_s);
        expect(verifyWebhookSignature(body, header, SECRET, 300, now_s)).toEqual({
          valid: true,
          timestamp_s: now_s,
        });
      }),
    );
  });

  it('matches the documented scheme: hex HMAC-SHA256 of "<t>.<raw body>"', () => {
    // Computed independently: printf '1700000000.{"a":1}' | openssl dgst -sha256 -hmac whsec_unit_0123456789abcdef
    expect(signatureHeader('{"a":1}', [SECRET], 1_700_000_000)).toBe(
      't=1700000000,v1=d7ae46ea4e7f35359ddd7c6e76fb07d732d6103ff3b9419784a50d13f1750e40',
    );
  });

  it('rejects a replay outside the tolerance, in either direction', () => {
    const header = signatureHeader('{}', [SECRET], 1_000);
    expect(verifyWebhookSignature('{}', header, SECRET, 300, 1_300).valid).toBe(true);
    expect(verifyWebhookSignature('{}', header, SECRET, 300, 1_301)).toEqual({
      valid: false,
      reason: 'timestamp_outside_tolerance',
    });
    expect(verifyWebhookSignature('{}', header, SECRET, 300, 699)).toEqual({
      valid: false,
      reason: 'timestamp_outside_tolerance',
    });
  });

  it('rejects a changed body, a wrong secret and a moved timestamp', () => {
    const header = signatureHeader('{"amount":"100"}', [SECRET], 1_000);
    expect(verifyWebhookSignature('{"amount":"900"}', header, SECRET, 300, 1_000).valid).toBe(false);
    expect(verifyWebhookSignature('{"amount":"100"}', header, `${SECRET}x`, 300, 1_000).valid).toBe(false);
    const moved = header.replace('t=1000', 't=1001');
    expect(verifyWebhookSignature('{"amount":"100"}', moved, SECRET, 300, 1_000)).toEqual({
      valid: false,
      reason: 'signature_mismatch',
    });
  });

  it('accepts any one valid v1 among several (secret rotation) and refuses malformed headers', () => {
    const good = signatureHeader('{}', [SECRET], 1_000).split(',')[1]!;
    expect(
      verifyWebhookSignature('{}', `t=1000,v1=${'0'.repeat(64)},${good}`, SECRET, 300, 1_000).valid,
    ).toBe(true);
    for (const header of [undefined, '', 't=1000', `v1=${'0'.repeat(64)}`, 't=abc,v1=00', 'x'.repeat(2000)]) {
      expect(verifyWebhookSignature('{}', header, SECRET, 300, 1_000)).toEqual({
        valid: false,
        reason: 'malformed',
      });
    }
  });
});

describe('endpoint event filters', () => {
  it('match AMQP topic patterns over the event type', () => {
    expect(matchesPattern('decision.#', 'decision.business.approved')).toBe(true);
    expect(matchesPattern('decision.*.declined', 'decision.personal.declined')).toBe(true);
    expect(matchesPattern('decision.*.declined', 'decision.personal.approved')).toBe(false);
    expect(matchesPattern('card.activated', 'card.activated')).toBe(true);
    expect(matchesPattern('card.*', 'card.activated.extra')).toBe(false);
    expect(matchesPattern('#', 'anything.at.all')).toBe(true);
    expect(matchesPattern('card.#.done', 'card.done')).toBe(true);
  });

  it('an empty filter wants every event', () => {
    expect(endpointWants([], 'decision.business.approved')).toBe(true);
    expect(endpointWants(['card.#'], 'decision.business.approved')).toBe(false);
  });
});

describe('webhook retry schedule', () => {
  const delays = [1_000, 5_000, 30_000];

  it('walks the retry queues in order, then stays on the last one', () => {
    const queueAt = (attempts: number) => nextStep('q', delays, attempts, 0, 86_400_000, () => 0.999).queue;
    expect([1, 2, 3, 4, 9].map(queueAt)).toEqual([
      'q.retry.1',
      'q.retry.2',
      'q.retry.3',
      'q.retry.3',
      'q.retry.3',
    ]);
  });

  it('jitters each delay between half and all of its queue delay', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 10 }),
        fc.double({ min: 0, max: 0.999_999, noNaN: true }),
        (attempts, r) => {
          const step = nextStep('q', delays, attempts, 0, 86_400_000, () => r);
          if (step.dead) throw new Error('not dead within the horizon');
          const delay_ms = delays[Math.min(attempts, delays.length) - 1]!;
          expect(step.expiration_ms).toBeGreaterThanOrEqual(delay_ms / 2);
          expect(step.expiration_ms).toBeLessThanOrEqual(delay_ms);
        },
      ),
    );
  });

  it('goes to the DLQ when the next try would start past the horizon', () => {
    expect(nextStep('q', delays, 2, 55_000, 60_000, () => 0)).toEqual({
      dead: false,
      queue: 'q.retry.2',
      expiration_ms: 2_500,
    });
    expect(nextStep('q', delays, 2, 58_000, 60_000, () => 0)).toEqual({ dead: true, queue: 'q.dlq' });
    expect(nextStep('q', [], 1, 0, 60_000, () => 0)).toEqual({ dead: true, queue: 'q.dlq' });
  });
});
