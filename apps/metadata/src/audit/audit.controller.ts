import { Controller } from '@nestjs/common';
import { HandleRequest } from '@muelle/bus';
import { listAudit, ParsedRequestOf, recordAudit } from '@muelle/contracts';
import { AuditService } from './audit.service';

@Controller()
export class AuditController {
  constructor(private readonly audit: AuditService) {}

  @HandleRequest(recordAudit)
  record(request: ParsedRequestOf<typeof recordAudit>) {
    return this.audit.record(request);
  }

  @HandleRequest(listAudit)
  list(request: ParsedRequestOf<typeof listAudit>) {
    return this.audit.list(request);
  }
}
