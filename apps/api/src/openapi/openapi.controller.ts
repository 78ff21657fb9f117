import { Controller, Get, Header, Inject } from '@nestjs/common';
import { SERVICE_INFO, ServiceInfo } from '@muelle/service-kit';
import { docsPage, openApiDocument } from './openapi';

@Controller()
export class OpenApiController {
  private readonly document: ReturnType<typeof openApiDocument>;

  constructor(@Inject(SERVICE_INFO) info: ServiceInfo) {
    this.document = openApiDocument(info.version);
  }

  @Get('openapi.json')
  json() {
    return this.document;
  }

  @Get('docs')
  @Header('Content-Type', 'text/html; charset=utf-8')
  docs() {
    return docsPage(this.document);
  }
}
