import { describe, expect, it } from 'vitest';
import { periodStartDate, windowIds, windowStartDate } from '../../shared/spend-windows.ts';

describe('spend windows', () => {
  it('23:59:59.999 and 00:00:00 fall in different days of the program time zone', () => {
    expect(windowIds(Date.parse('2026-11-25T23:59:59.999Z'), 'UTC')).toMatchObject({
      day_id: '20261125',
      month_id: '202611',
    });
    expect(windowIds(Date.parse('2026-11-26T00:00:00.000Z'), 'UTC')).toMatchObject({
      day_id: '20261126',
      month_id: '202611',
    });
  });

  it('month end rolls the month window', () => {
    expect(windowIds(Date.parse('2026-11-30T23:59:59Z'), 'UTC').month_id).toBe('202611');
    expect(windowIds(Date.parse('2026-12-01T00:00:00Z'), 'UTC').month_id).toBe('202612');
    expect(windowIds(Date.parse('2028-02-29T12:00:00Z'), 'UTC').day_id).toBe('20280229');
  });

  it('uses local midnight in the program time zone, across DST changes', () => {
    // New York: 2026-03-08 is the spring-forward day (23 hours long).
    expect(windowIds(Date.parse('2026-03-08T04:59:59Z'), 'America/New_York').day_id).toBe('20260307');
    expect(windowIds(Date.parse('2026-03-08T05:00:00Z'), 'America/New_York').day_id).toBe('20260308');
    expect(windowIds(Date.parse('2026-03-09T03:59:59Z'), 'America/New_York').day_id).toBe('20260308');
    expect(windowIds(Date.parse('2026-03-09T04:00:00Z'), 'America/New_York').day_id).toBe('20260309');
    // Fall back: 2026-11-01 is 25 hours long.
    expect(windowIds(Date.parse('2026-11-02T04:59:59Z'), 'America/New_York').day_id).toBe('20261101');
    expect(windowIds(Date.parse('2026-11-02T05:00:00Z'), 'America/New_York').day_id).toBe('20261102');
  });

  it('gives each window its first day as an ISO date', () => {
    expect(windowStartDate('20261125')).toBe('2026-11-25');
    expect(windowStartDate('202611')).toBe('2026-11-01');
  });
});

describe('week, year and all-time windows', () => {
  it('uses ISO weeks: Monday starts a week, and the first days of January may belong to the last year', () => {
    expect(windowIds(Date.parse('2026-11-29T23:59:59Z'), 'UTC').week_id).toBe('2026-W48');
    expect(windowIds(Date.parse('2026-11-30T00:00:00Z'), 'UTC').week_id).toBe('2026-W49');
    expect(windowIds(Date.parse('2027-01-01T12:00:00Z'), 'UTC').week_id).toBe('2026-W53');
    expect(windowIds(Date.parse('2027-01-01T12:00:00Z'), 'UTC').year_id).toBe('2027');
    expect(windowIds(Date.parse('2027-01-01T12:00:00Z'), 'UTC').all_id).toBe('all');
  });

  it('gives a week window its Monday', () => {
    expect(periodStartDate('week', '2026-W48')).toBe('2026-11-23');
    expect(periodStartDate('week', '2026-W53')).toBe('2026-12-28');
    expect(periodStartDate('year', '2026')).toBe('2026-01-01');
  });
});
