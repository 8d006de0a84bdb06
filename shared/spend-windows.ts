// Spend windows: the calendar day, ISO week, month and year of an instant in the program's
// time zone, plus the all-time window. Intl does the time zone arithmetic (DST, month ends);
// ids are compact sortable strings.

export interface WindowIds {
  /** YYYYMMDD */
  readonly day_id: string;
  /** GGGG-Www (ISO 8601 week-numbering year and week) */
  readonly week_id: string;
  /** YYYYMM */
  readonly month_id: string;
  /** YYYY */
  readonly year_id: string;
  /** The all-time window never rolls. */
  readonly all_id: typeof ALL_TIME_WINDOW_ID;
}

/** The id of the all-time window: it never rolls. */
export const ALL_TIME_WINDOW_ID = 'all';

const formatters = new Map<string, Intl.DateTimeFormat>();

function formatter(time_zone: string): Intl.DateTimeFormat {
  let format = formatters.get(time_zone);
  if (format === undefined) {
    format = new Intl.DateTimeFormat('en-CA', {
      timeZone: time_zone,
      year: 'numeric',
      month: '2-digit',
      day: '2-digit',
    });
    formatters.set(time_zone, format);
  }
  return format;
}

/** ISO week of a calendar date (the date's own local day, computed on a UTC calendar). */
function isoWeek(year: number, month: number, day: number): string {
  const date = new Date(Date.UTC(year, month - 1, day));
  const weekday = date.getUTCDay() || 7;
  // The Thursday of this week decides the week-numbering year.
  date.setUTCDate(date.getUTCDate() + 4 - weekday);
  const week_year = date.getUTCFullYear();
  const week = Math.ceil(((date.getTime() - Date.UTC(week_year, 0, 1)) / 86_400_000 + 1) / 7);
  return `${week_year}-W${String(week).padStart(2, '0')}`;
}

// Formatting a date costs microseconds; a decision needs its windows once per request, and
// they only change at local midnight, so cache the last result per time zone for one second.
const last = new Map<string, { second: number; ids: WindowIds }>();

export function windowIds(at_ms: number, time_zone: string): WindowIds {
  const second = Math.floor(at_ms / 1000);
  const cached = last.get(time_zone);
  if (cached && cached.second === second) return cached.ids;
  // en-CA formats as YYYY-MM-DD.
  const text = formatter(time_zone).format(at_ms);
  const [year, month, day] = text.split('-').map(Number) as [number, number, number];
  const day_id = text.replaceAll('-', '');
  const ids: WindowIds = {
    day_id,
    week_id: isoWeek(year, month, day),
    month_id: day_id.slice(0, 6),
    year_id: day_id.slice(0, 4),
    all_id: ALL_TIME_WINDOW_ID,
  };
  last.set(time_zone, { second, ids });
  return ids;
}

export type Period = 'day' | 'week' | 'month' | 'year' | 'all';

/** The first day of a day (YYYYMMDD) or month (YYYYMM) window as an ISO date. */
export function windowStartDate(window_id: string): string {
  return periodStartDate(window_id.length >= 8 ? 'day' : 'month', window_id);
}

/** The first day of a window as an ISO date (YYYY-MM-DD), for SQL `date` columns. */
export function periodStartDate(period: Period, window_id: string): string {
  switch (period) {
    case 'day':
      return `${window_id.slice(0, 4)}-${window_id.slice(4, 6)}-${window_id.slice(6, 8)}`;
    case 'month':
      return `${window_id.slice(0, 4)}-${window_id.slice(4, 6)}-01`;
    case 'year':
      return `${window_id}-01-01`;
    case 'all':
      return '1970-01-01';
    case 'week': {
      // Monday of ISO week: week 1 contains January 4th.
      const week_year = Number(window_id.slice(0, 4));
      const week = Number(window_id.slice(6));
      const jan4 = new Date(Date.UTC(week_year, 0, 4));
      const monday = new Date(
        jan4.getTime() - ((jan4.getUTCDay() || 7) - 1) * 86_400_000 + (week - 1) * 7 * 86_400_000,
      );
      return monday.toISOString().slice(0, 10);
    }
  }
}
