import { Counter, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { BusObserver } from '@muelle/bus';

/**
 * One Prometheus registry per service instance (the all-in-one hosts five in one process,
 * each with its own /metrics).
 */
export class ServiceMetrics implements BusObserver {
  readonly registry = new Registry();
  readonly httpRequests: Counter<'method' | 'route' | 'status'>;
  readonly httpDuration: Histogram<'method' | 'route'>;
  readonly busRequests: Histogram<'subject' | 'outcome'>;
  readonly errors: Counter<'kind'>;

  constructor(service: string) {
    this.registry.setDefaultLabels({ service });
    collectDefaultMetrics({ register: this.registry });
    this.httpRequests = new Counter({
      name: 'muelle_http_requests_total',
      help: 'HTTP requests served',
      labelNames: ['method', 'route', 'status'],
      registers: [this.registry],
    });
    this.httpDuration = new Histogram({
      name: 'muelle_http_request_duration_seconds',
      help: 'HTTP request latency',
      labelNames: ['method', 'route'],
      buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10],
      registers: [this.registry],
    });
    this.busRequests = new Histogram({
      name: 'muelle_bus_request_duration_seconds',
      help: 'Bus request/reply round trips',
      labelNames: ['subject', 'outcome'],
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5, 1, 5],
      registers: [this.registry],
    });
    this.errors = new Counter({ name: 'muelle_errors_total', help: 'Errors by kind', labelNames: ['kind'], registers: [this.registry] });
  }

  onRequest(subject: string, outcome: 'ok' | 'error' | 'timeout', seconds: number): void {
    this.busRequests.observe({ subject, outcome }, seconds);
    if (outcome !== 'ok') this.errors.inc({ kind: `bus_${outcome}` });
  }
}
