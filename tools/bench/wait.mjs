// Waiting helpers shared by the benchmark scripts.
export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** Retries `check` every 200 ms until it resolves; its last error once `timeoutMs` passed. */
export async function eventually(check, timeoutMs = 30000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await check();
    } catch (error) {
      if (Date.now() > deadline) throw error;
      await sleep(200);
    }
  }
}
