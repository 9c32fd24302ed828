// Waiting for what the kernel does after a call returns (a frame delivered
// in softirq, a link or program freed in deferred work): poll `cond` until
// it holds or `ms` pass. The bound is for a lost event only, never timing.

/** True once `cond()` holds; false if it still does not after `ms`. */
export async function until(cond: () => boolean, ms = 10_000, stepMs = 10): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() >= deadline) return false;
    await new Promise((r) => setTimeout(r, stepMs));
  }
  return true;
}

/**
 * True once no link has `id`: closing our fd detaches a link only when no one
 * else holds it, and a bpftool another test runs may hold it for a moment (it
 * opens every link to list them). Call before asserting that a closed link's
 * effect has stopped.
 */
export async function linkReleased(id: number): Promise<boolean> {
  const { ids } = await import('../../src/sys/ids.js');
  return until(() => ![...ids('link')].includes(id));
}
