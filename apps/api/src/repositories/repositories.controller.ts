import { Body, Controller, Get, Param, Patch, UseGuards } from '@nestjs/common';
import { RegistryRepositoryName } from '@muelle/contracts';
import { z } from 'zod';
import { AuthGuard, CurrentPrincipal } from '../auth/auth.guard';
import { RequestPrincipal } from '../auth/principal';
import { parseRequest } from '../http/validation';
import { RepositoriesService } from './repositories.service';

export const RepositoryPath = z.object({ name: RegistryRepositoryName });

/** Unknown fields are refused: a misspelt setting must not look applied. */
export const UpdateRepositoryBody = z
  .object({
    /** Anyone may pull (`docker pull`, `skopeo copy`) without credentials; push still needs them. */
    anonymousPull: z.boolean().optional(),
    /** Every signed-in user may pull (like `library/…`); only admins push. */
    shared: z.boolean().optional(),
  })
  .strict()
  .refine((body) => body.anonymousPull !== undefined || body.shared !== undefined, 'send anonymousPull and/or shared (true or false)');

/**
 * Repository names contain `/`: the route takes the rest of the path (`/v1/repositories/team/app`),
 * and a name sent as one encoded segment (`team%2Fapp`) reads the same.
 */
function repositoryName(param: string | string[]): string {
  const name = Array.isArray(param) ? param.join('/') : param;
  return parseRequest(RepositoryPath, { name }, 'path').name;
}

/** Registry settings of one repository of the platform registry. */
@Controller('v1/repositories')
@UseGuards(AuthGuard)
export class RepositoriesController {
  constructor(private readonly repositories: RepositoriesService) {}

  @Get('*name')
  get(@CurrentPrincipal() principal: RequestPrincipal, @Param('name') name: string | string[]) {
    return this.repositories.get(principal, repositoryName(name));
  }

  @Patch('*name')
  update(@CurrentPrincipal() principal: RequestPrincipal, @Param('name') name: string | string[], @Body() body: unknown) {
    return this.repositories.update(principal, repositoryName(name), parseRequest(UpdateRepositoryBody, body));
  }
}
