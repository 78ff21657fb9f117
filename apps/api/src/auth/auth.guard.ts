import { CanActivate, ExecutionContext, Injectable, createParamDecorator } from '@nestjs/common';
import { BusClient } from '@muelle/bus';
import { authenticateToken, authenticateUser, UnauthenticatedError, UserRecord } from '@muelle/contracts';
import type { Request, Response } from 'express';

/**
 * Every /v1 route needs a user: `Authorization: Bearer <token>` (API tokens) or Basic
 * username:password. Both are checked by metadata over the bus.
 */
@Injectable()
export class AuthGuard implements CanActivate {
  constructor(private readonly bus: BusClient) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    const http = context.switchToHttp();
    const request = http.getRequest<Request & { user?: UserRecord }>();
    const header = request.headers.authorization ?? '';
    try {
      request.user = await this.authenticate(header);
      return true;
    } catch (error) {
      http.getResponse<Response>().setHeader('WWW-Authenticate', 'Bearer realm="muelle", Basic realm="muelle"');
      throw error;
    }
  }

  private async authenticate(header: string): Promise<UserRecord> {
    const [scheme, value] = header.split(' ', 2);
    if (scheme?.toLowerCase() === 'bearer' && value) return this.bus.request(authenticateToken, { token: value.trim() });
    if (scheme?.toLowerCase() === 'basic' && value) {
      const decoded = Buffer.from(value, 'base64').toString('utf8');
      const colon = decoded.indexOf(':');
      if (colon > 0) return this.bus.request(authenticateUser, { username: decoded.slice(0, colon), password: decoded.slice(colon + 1) });
    }
    throw new UnauthenticatedError('send a bearer token or basic credentials');
  }
}

export const CurrentUser = createParamDecorator((_: unknown, context: ExecutionContext) => {
  return context.switchToHttp().getRequest<Request & { user: UserRecord }>().user;
});
