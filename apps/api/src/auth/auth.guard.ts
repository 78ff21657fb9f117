import { CanActivate, ExecutionContext, Injectable, createParamDecorator } from '@nestjs/common';
import type { Request } from 'express';
import { Authenticator } from './authenticator';
import { RequestPrincipal } from './principal';
import { requireScopes } from './token-scope-check';
import { credentialOf } from './session-cookie';

type AuthedRequest = Request & { principal?: RequestPrincipal };

/**
 * Every /v1 route needs a user: `Authorization: Bearer <token>` (API tokens), Basic
 * username:password, or the console's session cookie (a token; session-cookie.ts), all checked
 * by metadata over the bus. A refusal carries no
 * `WWW-Authenticate: Basic` challenge: browsers would prompt and then remember the password,
 * sending it on every (cross-site) request afterwards.
 */
@Injectable()
export class AuthGuard implements CanActivate {
  constructor(private readonly authenticator: Authenticator) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    const request = context.switchToHttp().getRequest<AuthedRequest>();
    request.principal = await this.authenticator.authenticate(credentialOf(request.method, request.headers), clientAddressOf(request));
    requireScopes(request.principal, request.method, request.originalUrl ?? request.url);
    return true;
  }
}

/** The peer's address as the socket saw it (no proxy headers are trusted). */
export const clientAddressOf = (request: { socket?: { remoteAddress?: string } }) => request.socket?.remoteAddress;

export const CurrentPrincipal = createParamDecorator((_: unknown, context: ExecutionContext) => {
  return context.switchToHttp().getRequest<AuthedRequest>().principal!;
});
