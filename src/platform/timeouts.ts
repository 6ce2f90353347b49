// Waiting at most so long for something that may never settle (a stuck socket, a run that does not end).

/** `promise`, or after `ms` what `onTimeout` returns (or throws); the timer is cleared either way. */
export function withTimeout<T, F>(promise: Promise<T>, ms: number, onTimeout: () => F): Promise<T | F> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<F>((resolve, reject) => {
    timer = setTimeout(() => {
      try {
        resolve(onTimeout());
      } catch (err) {
        reject(err);
      }
    }, ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}
