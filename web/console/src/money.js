// Money arrives as Int64 fen (a JSON number, or a BigInt when beyond 2^53)
// and is shown in yuan with integer arithmetic only: never a float.

const group = (digits) => digits.replace(/\B(?=(\d{3})+(?!\d))/g, ',');

/** Formats fen as yuan: 123456 -> "¥1,234.56", -5 -> "-¥0.05". */
export function yuan(fen) {
  const v = BigInt(fen);
  const abs = v < 0n ? -v : v;
  const whole = group((abs / 100n).toString());
  const cents = (abs % 100n).toString().padStart(2, '0');
  return `${v < 0n ? '-' : ''}¥${whole}.${cents}`;
}

/** Formats a count with thousands separators. */
export function count(n) {
  const v = BigInt(n);
  return (v < 0n ? '-' : '') + group((v < 0n ? -v : v).toString());
}

/** part / whole as a percentage with one decimal, in integer arithmetic ("" when whole is 0). */
export function percent(part, whole) {
  const p = BigInt(part);
  const w = BigInt(whole);
  if (w === 0n) return '';
  const tenths = (p * 1000n + w / 2n) / w;
  return `${tenths / 10n}.${tenths % 10n}%`;
}
