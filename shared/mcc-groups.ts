// Merchant category groups for per-category limits: a small, explicit map from ISO 18245
// merchant category codes to the groups a program can limit. Unlisted codes have no group.

const RANGES: ReadonlyArray<readonly [group: string, from: number, to: number]> = [
  ['airlines', 3000, 3350],
  ['airlines', 4511, 4511],
  ['car_rental', 3351, 3500],
  ['car_rental', 7512, 7512],
  ['lodging', 3501, 3999],
  ['lodging', 7011, 7011],
  ['transport', 4111, 4131],
  ['transport', 4121, 4121],
  ['fuel', 5541, 5542],
  ['grocery', 5411, 5411],
  ['dining', 5812, 5814],
  ['cash', 6010, 6011],
  ['quasi_cash', 6051, 6051],
  ['gambling', 7995, 7995],
  ['digital_goods', 5815, 5818],
];

export function mccGroup(mcc: string | null | undefined): string {
  if (mcc === null || mcc === undefined || !/^\d{4}$/.test(mcc)) return '';
  const code = Number(mcc);
  for (const [group, from, to] of RANGES) if (code >= from && code <= to) return group;
  return '';
}
