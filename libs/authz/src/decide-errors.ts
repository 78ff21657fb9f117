import { NotFoundError, PermissionDeniedError } from '@muelle/contracts';
import type { Decision } from './model';

export interface RefusalWording {
  /** The 404 message when the object is hidden (`no such image: …`): the door's own words. */
  notFound: string;
  /** What was attempted (`changing a repository's settings`), prefixed to admin-only refusals. */
  what?: string;
  /** The request field the refusal is about, for clients that point at it. */
  field?: string;
}

/**
 * The adapter every HTTP door uses: a refusal becomes the typed error mapped to 404 (hidden
 * object) or 403 (naming the rule) in one place (`libs/service-kit/src/http-errors.ts`).
 */
export function enforce(decision: Decision, wording: RefusalWording): void {
  if (decision.allowed) return;
  const details = { rule: decision.rule, ...(wording.field && { field: wording.field }) };
  if (decision.outcome === 'not-found') throw new NotFoundError(wording.notFound, wording.field ? { field: wording.field } : undefined);
  const message = decision.rule === 'admin-only' && wording.what ? `${wording.what} needs the admin role` : decision.reason;
  throw new PermissionDeniedError(message, details);
}
