import { toMuelleError } from '@muelle/contracts';
import { httpStatusOf } from '@muelle/service-kit';
import type { Response } from 'express';

/**
 * Answers with NDJSON progress lines as `work` reports them, then `{status:"done", …result}`.
 * An error before the first line is an ordinary error response; after it, it can only be the
 * last line (`{error}`), since the status is already sent.
 */
export async function ndjsonProgress<T extends object>(res: Response, work: (line: (value: unknown) => void) => Promise<T>): Promise<void> {
  let started = false;
  const line = (value: unknown) => {
    if (!started) {
      started = true;
      res.status(200).type('application/x-ndjson');
      res.flushHeaders();
    }
    res.write(JSON.stringify(value) + '\n');
  };
  try {
    const result = await work(line);
    line({ status: 'done', ...result });
    res.end();
  } catch (error) {
    const typed = toMuelleError(error);
    if (!started) {
      res.status(httpStatusOf[typed.code]).json({ error: typed.toWire() });
      return;
    }
    line({ error: typed.toWire() });
    res.end();
  }
}
