import { Controller } from '@nestjs/common';
import { HandleRequest } from '@muelle/bus';
import { listEvents, ParsedRequestOf, recordEvent } from '@muelle/contracts';
import { EventsService } from './events.service';

@Controller()
export class EventsController {
  constructor(private readonly events: EventsService) {}

  @HandleRequest(recordEvent)
  record(request: ParsedRequestOf<typeof recordEvent>) {
    return this.events.record(request);
  }

  @HandleRequest(listEvents)
  list(request: ParsedRequestOf<typeof listEvents>) {
    return this.events.list(request);
  }
}
