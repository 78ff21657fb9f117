import { Injectable, OnApplicationBootstrap } from '@nestjs/common';
import { ReadinessRegistry } from '@muelle/service-kit';
import { DataSource } from 'typeorm';

@Injectable()
export class DatabaseReadiness implements OnApplicationBootstrap {
  constructor(
    private readonly readiness: ReadinessRegistry,
    private readonly dataSource: DataSource,
  ) {}

  onApplicationBootstrap() {
    this.readiness.register('database', async () => {
      await this.dataSource.query('SELECT 1');
    });
  }
}
