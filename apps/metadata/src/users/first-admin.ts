import { Inject, Injectable, OnApplicationBootstrap } from '@nestjs/common';
import type { MetadataConfig } from '../config';
import { METADATA_CONFIG } from '../tokens';
import { UsersService } from './users.service';

/**
 * Creates the first admin on a new database. Nest runs this inside `listen()`, before /readyz or
 * the bus answer, so a client that waits for readiness can always log in (a login that came
 * while the password was still being hashed used to be refused).
 */
@Injectable()
export class FirstAdmin implements OnApplicationBootstrap {
  constructor(
    @Inject(METADATA_CONFIG) private readonly config: MetadataConfig,
    private readonly users: UsersService,
  ) {}

  onApplicationBootstrap(): Promise<void> {
    return this.users.ensureFirstAdmin(this.config.MUELLE_ADMIN_USER, this.config.MUELLE_ADMIN_PASSWORD);
  }
}
