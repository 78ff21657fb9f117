import { CallHandler, ExecutionContext, Injectable, NestInterceptor } from '@nestjs/common';
import { NotFoundError, PermissionDeniedError } from '@muelle/contracts';
import type { Request } from 'express';
import { catchError, Observable, throwError } from 'rxjs';
import type { RequestPrincipal } from '../auth/principal';
import { AuditLog } from './audit-log';

const READS = new Set(['GET', 'HEAD', 'OPTIONS']);

/**
 * Every refused change is in the audit log, whichever door and route refused it: a signed-in
 * caller's state-changing request (`/v1` or the Docker API) that ends in 403 (a rule said no) or
 * 404 (another team's object, hidden) is recorded with who, which team, the route and the rule.
 * Allowed changes are recorded by the services that make them.
 */
@Injectable()
export class DeniedChangeAudit implements NestInterceptor {
  constructor(private readonly audit: AuditLog) {}

  intercept(context: ExecutionContext, next: CallHandler): Observable<unknown> {
    if (context.getType() !== 'http') return next.handle();
    const request = context.switchToHttp().getRequest<Request & { principal?: RequestPrincipal }>();
    if (READS.has(request.method)) return next.handle();
    return next.handle().pipe(
      catchError((error: unknown) => {
        const principal = request.principal;
        if (principal && (error instanceof PermissionDeniedError || error instanceof NotFoundError)) {
          const rule = (error.details as { rule?: unknown } | undefined)?.rule;
          // Not awaited: the refusal goes back at once; AuditLog logs a failed write itself.
          void this.audit.record(principal, 'request.denied', `${request.method} ${request.path}`, {
            outcome: error instanceof PermissionDeniedError ? 'forbidden' : 'not-found',
            team: principal.teamName,
            message: error.message,
            ...(typeof rule === 'string' ? { rule } : {}),
          });
        }
        return throwError(() => error);
      }),
    );
  }
}
