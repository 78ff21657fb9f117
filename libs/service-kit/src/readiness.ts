import { Injectable } from '@nestjs/common';

/** Resolves when ready; a string it resolves to is reported as the check's detail (e.g. which backend). */
export type ReadinessCheck = () => Promise<void | string>;

/** What a service depends on to do its job (bus, database, storage…); /readyz runs them all. */
@Injectable()
export class ReadinessRegistry {
  private readonly checks = new Map<string, ReadinessCheck>();

  register(name: string, check: ReadinessCheck): void {
    this.checks.set(name, check);
  }

  async run(timeoutMs = 2_000): Promise<{ ready: boolean; checks: Record<string, string>; details: Record<string, string> }> {
    const details: Record<string, string> = {};
    const entries = await Promise.all(
      [...this.checks].map(async ([name, check]) => {
        try {
          const detail = await withTimeout(check(), timeoutMs, `${name} did not answer within ${timeoutMs} ms`);
          if (typeof detail === 'string') details[name] = detail;
          return [name, 'ok'] as const;
        } catch (error) {
          return [name, String((error as Error)?.message ?? error)] as const;
        }
      }),
    );
    return { ready: entries.every(([, v]) => v === 'ok'), checks: Object.fromEntries(entries), details };
  }
}

export function withTimeout<T>(promise: Promise<T>, ms: number, message: string): Promise<T> {
  let timer: NodeJS.Timeout;
  return Promise.race([
    promise.finally(() => clearTimeout(timer)),
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(message)), ms);
    }),
  ]);
}
