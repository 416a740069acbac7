/**
 * A Node preload that puts this process's wall clock off by a fixed offset, for tests of devices whose clock is
 * wrong. Use it as `NODE_OPTIONS=--import=<absolute path of this file>` with `PL_TEST_CLOCK_SKEW_MS=<ms>` (e.g.
 * -3600000: an hour behind): Date.now() and `new Date()` (no argument; also `Date()` called as a function) then
 * give the real time plus the offset, for the whole process; dates built from an argument, performance.now() and
 * timers are untouched. With the variable unset, empty or 0 it changes nothing; a value that is not an integer
 * number of milliseconds is an error (the process fails to start rather than run with the real clock).
 */
const raw = process.env.PL_TEST_CLOCK_SKEW_MS;
if (raw !== undefined && raw.trim() !== '') {
  const skew = Number(raw);
  if (!Number.isSafeInteger(skew))
    throw new Error(`PL_TEST_CLOCK_SKEW_MS must be an integer number of milliseconds, not ${JSON.stringify(raw)}`);
  if (skew !== 0) {
    const RealDate = Date;
    const realNow = RealDate.now.bind(RealDate);
    const now = () => realNow() + skew;
    globalThis.Date = new Proxy(RealDate, {
      construct: (target, args, newTarget) => Reflect.construct(target, args.length === 0 ? [now()] : args, newTarget),
      apply: () => new RealDate(now()).toString(),
      get: (target, key, receiver) => (key === 'now' ? now : Reflect.get(target, key, receiver))
    });
  }
}
