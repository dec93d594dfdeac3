// Comparisons of the device check (scripts/device-check.ts and its helpers in scripts/lib).

/** ‖a − b‖ / ‖b‖ (0 when both are all zero, Infinity when only b is). */
export function relErr(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let num = 0;
  let den = 0;
  for (let i = 0; i < a.length; i++) {
    num += (a[i] - b[i]) ** 2;
    den += b[i] ** 2;
  }
  return den === 0 ? (num === 0 ? 0 : Infinity) : Math.sqrt(num / den);
}

/** Every element is zero: an output nobody wrote, or a path that computed nothing. */
export function allZero(a: ArrayLike<number>): boolean {
  return Array.prototype.every.call(a, (v: number) => v === 0);
}
