import { Body, Controller, Delete, Get, HttpCode, Inject, Post, Req, Res, UseGuards } from '@nestjs/common';
import type { Request, Response } from 'express';
import { z } from 'zod';
import { API_CONFIG, ApiConfig } from '../config';
import { parseRequest } from '../http/validation';
import { AuthGuard, clientAddressOf, CurrentPrincipal } from './auth.guard';
import { RequestPrincipal } from './principal';
import { clearedSessionCookie, sessionCookie, sessionTokenOf } from './session-cookie';
import { SessionService } from './session.service';

export const SignInBody = z.object({
  username: z.string().min(1).max(64),
  password: z.string().min(1).max(1024),
});

/** The console's cookie session: sign in, who am I (with the CSRF token), sign out. */
@Controller('v1/auth/session')
export class SessionController {
  /** `Secure` cookies whenever the api serves HTTPS. */
  private readonly secure: boolean;

  constructor(
    private readonly sessions: SessionService,
    @Inject(API_CONFIG) config: ApiConfig,
  ) {
    this.secure = !!config.MUELLE_TLS_CERT;
  }

  @Post()
  @HttpCode(201)
  async signIn(@Body() body: unknown, @Req() req: Request, @Res({ passthrough: true }) res: Response) {
    const { username, password } = parseRequest(SignInBody, body);
    const { token, view } = await this.sessions.signIn(username, password, clientAddressOf(req));
    res.setHeader('Set-Cookie', sessionCookie(token, this.sessions.ttlSeconds, this.secure));
    res.setHeader('Cache-Control', 'no-store');
    return view;
  }

  @Get()
  @UseGuards(AuthGuard)
  async describe(@CurrentPrincipal() principal: RequestPrincipal, @Req() req: Request, @Res({ passthrough: true }) res: Response) {
    res.setHeader('Cache-Control', 'no-store');
    return this.sessions.describe(principal, sessionTokenOf(req.headers.cookie), clientAddressOf(req));
  }

  @Delete()
  @HttpCode(204)
  @UseGuards(AuthGuard)
  async signOut(@CurrentPrincipal() principal: RequestPrincipal, @Req() req: Request, @Res({ passthrough: true }) res: Response) {
    await this.sessions.signOut(principal, sessionTokenOf(req.headers.cookie), clientAddressOf(req));
    res.setHeader('Set-Cookie', clearedSessionCookie(this.secure));
  }
}
