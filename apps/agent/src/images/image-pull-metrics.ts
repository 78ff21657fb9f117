import { Inject, Injectable } from '@nestjs/common';
import { ServiceMetrics } from '@muelle/service-kit';
import { Counter, Histogram } from 'prom-client';
import { IMAGE_STORE } from '../tokens';
import type { ImageStore } from './image-store';

/** Image pulls this host made: how many (by result), the bytes fetched and how long they took. */
@Injectable()
export class ImagePullMetrics {
  constructor(metrics: ServiceMetrics, @Inject(IMAGE_STORE) images: ImageStore) {
    const registers = [metrics.registry];
    const pulls = new Counter({ name: 'muelle_image_pulls_total', help: 'Image pulls from a registry, by result', labelNames: ['result'], registers });
    const bytes = new Counter({ name: 'muelle_image_pull_bytes_total', help: 'Blob bytes fetched by image pulls (layers already on the host are not fetched)', registers });
    const seconds = new Histogram({
      name: 'muelle_image_pull_duration_seconds',
      help: 'Image pull time, manifest to last layer unpacked',
      labelNames: ['result'],
      buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300],
      registers,
    });
    images.pullObserver = (pull) => {
      pulls.inc({ result: pull.result });
      bytes.inc(pull.downloadedBytes);
      seconds.observe({ result: pull.result }, pull.seconds);
    };
  }
}
