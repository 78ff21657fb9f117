import { Body, Controller, Delete, Get, HttpCode, Param, Patch, Post, Put, Query, UseGuards } from '@nestjs/common';
import { AuthGuard, CurrentPrincipal } from '../auth/auth.guard';
import { RequestPrincipal } from '../auth/principal';
import { parseRequest } from '../http/validation';
import { CreateServiceBody, ReplaceServiceBody, ScaleBody, ServiceLogsQuery, ServiceVersionQuery, UpdateServiceBody } from './services.schemas';
import { ServicesService } from './services.service';

/** Thin HTTP shell over ServicesService. */
@Controller('v1/services')
@UseGuards(AuthGuard)
export class ServicesController {
  constructor(private readonly services: ServicesService) {}

  @Post()
  @HttpCode(201)
  create(@CurrentPrincipal() principal: RequestPrincipal, @Body() body: unknown) {
    return this.services.create(principal, parseRequest(CreateServiceBody, body));
  }

  @Get()
  list(@CurrentPrincipal() principal: RequestPrincipal) {
    return this.services.list(principal);
  }

  @Get(':ref')
  inspect(@CurrentPrincipal() principal: RequestPrincipal, @Param('ref') ref: string) {
    return this.services.get(principal, ref);
  }

  @Get(':ref/tasks')
  async tasks(@CurrentPrincipal() principal: RequestPrincipal, @Param('ref') ref: string) {
    return { items: await this.services.tasks(principal, ref) };
  }

  @Get(':ref/logs')
  logs(@CurrentPrincipal() principal: RequestPrincipal, @Param('ref') ref: string, @Query() query: unknown) {
    return this.services.logs(principal, ref, parseRequest(ServiceLogsQuery, query, 'query'));
  }

  @Post(':ref/scale')
  scale(@CurrentPrincipal() principal: RequestPrincipal, @Param('ref') ref: string, @Body() body: unknown, @Query() query: unknown) {
    return this.services.scale(principal, ref, parseRequest(ScaleBody, body).replicas, parseRequest(ServiceVersionQuery, query, 'query').version);
  }

  @Patch(':ref')
  update(@CurrentPrincipal() principal: RequestPrincipal, @Param('ref') ref: string, @Body() body: unknown, @Query() query: unknown) {
    return this.services.update(principal, ref, parseRequest(UpdateServiceBody, body), 'merge', parseRequest(ServiceVersionQuery, query, 'query').version);
  }

  @Put(':ref')
  replace(@CurrentPrincipal() principal: RequestPrincipal, @Param('ref') ref: string, @Body() body: unknown, @Query() query: unknown) {
    return this.services.update(principal, ref, parseRequest(ReplaceServiceBody, body), 'replace', parseRequest(ServiceVersionQuery, query, 'query').version);
  }

  @Post(':ref/rollback')
  rollback(@CurrentPrincipal() principal: RequestPrincipal, @Param('ref') ref: string) {
    return this.services.rollback(principal, ref);
  }

  @Delete(':ref')
  remove(@CurrentPrincipal() principal: RequestPrincipal, @Param('ref') ref: string) {
    return this.services.remove(principal, ref);
  }
}
