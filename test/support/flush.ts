// Lets every queued microtask (dispatch cycles, promise resolutions) run, without advancing virtual time.
export async function flushMicrotasks(rounds = 5): Promise<void> {
  for (let i = 0; i < rounds; i++) await new Promise<void>((resolve) => setImmediate(resolve));
}
