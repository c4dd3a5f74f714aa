// Runs `fn` over `items` with at most `limit` in flight. After the first failure no new item is
// started; the ones in flight finish. Resolves with the first error (or undefined) — never rejects,
// so the caller can still wait for the work those calls started before reporting.
export async function forEachLimited<T>(items: readonly T[], limit: number, fn: (item: T, index: number) => Promise<void>): Promise<{ ok: true } | { ok: false; error: unknown }> {
  let next = 0;
  let failed = false;
  let error: unknown;
  const worker = async (): Promise<void> => {
    while (!failed && next < items.length) {
      const i = next++;
      try {
        await fn(items[i], i);
      } catch (e) {
        if (!failed) { failed = true; error = e; }
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, worker));
  return failed ? { ok: false, error } : { ok: true };
}
