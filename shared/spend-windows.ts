// Spend windows: the calendar day and month of an instant in the program's time zone.
// Intl does the time zone arithmetic (DST, month ends); ids are compact sortable strings.

export interface WindowIds {
  /** YYYYMMDD */
  readonly day_id: string;
  /** YYYYMM */
  readonly month_id: string;
}

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

export function windowIds(at_ms: number, time_zone: string): WindowIds {
  // en-CA formats as YYYY-MM-DD.
  const text = formatter(time_zone).format(at_ms);
  const day_id = text.replaceAll('-', '');
  return { day_id, month_id: day_id.slice(0, 6) };
}

/** The first day of a window as an ISO date (YYYY-MM-DD), for SQL `date` columns. */
export function windowStartDate(window_id: string): string {
  const year = window_id.slice(0, 4);
  const month = window_id.slice(4, 6);
  const day = window_id.length >= 8 ? window_id.slice(6, 8) : '01';
  return `${year}-${month}-${day}`;
}
