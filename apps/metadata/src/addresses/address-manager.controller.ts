import { Controller } from '@nestjs/common';
import { HandleRequest } from '@muelle/bus';
import { allocateHostSubnet, AllocateHostSubnetRequest } from '@muelle/contracts';
import { AddressManagerService } from './address-manager.service';

@Controller()
export class AddressManagerController {
  constructor(private readonly addresses: AddressManagerService) {}

  @HandleRequest(allocateHostSubnet)
  hostSubnet(request: AllocateHostSubnetRequest) {
    return this.addresses.hostSubnet(request);
  }
}
