import { CanActivate, ExecutionContext, Injectable, createParamDecorator } from '@nestjs/common';
import type { Request, Response } from 'express';
import { Authenticator } from './authenticator';
import { RequestPrincipal } from './principal';

type AuthedRequest = Request & { principal?: RequestPrincipal };

/**
 * Every /v1 route needs a user: `Authorization: Bearer <token>` (API tokens) or Basic
 * username:password. Both are checked by metadata over the bus.
 */
@Injectable()
export class AuthGuard implements CanActivate {
  constructor(private readonly authenticator: Authenticator) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    const http = context.switchToHttp();
    const request = http.getRequest<AuthedRequest>();
    try {
      request.principal = await this.authenticator.authenticate(request.headers.authorization);
      return true;
    } catch (error) {
      http.getResponse<Response>().setHeader('WWW-Authenticate', 'Bearer realm="muelle", Basic realm="muelle"');
      throw error;
    }
  }
}

export const CurrentPrincipal = createParamDecorator((_: unknown, context: ExecutionContext) => {
  return context.switchToHttp().getRequest<AuthedRequest>().principal!;
});
