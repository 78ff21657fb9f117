import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { collectDefaultMetrics, Registry } from 'prom-client';
import { parse } from 'yaml';

const root = join(__dirname, '..', '..');
const dashboard = JSON.parse(readFileSync(join(__dirname, 'grafana-dashboard.json'), 'utf8'));

/** Every production source file of the services and libs. */
function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((entry) => {
    const path = join(dir, entry);
    if (entry === 'node_modules' || entry === 'dist') return [];
    if (statSync(path).isDirectory()) return sources(path);
    return /\.ts$/.test(entry) && !/\.(spec|int-spec|e2e-spec)\.ts$/.test(entry) ? [relative(root, path)] : [];
  });
}

/** Metric names the code registers with prom-client (`name: 'muelle_…'` in a metric's options). */
function definedMetrics(): Map<string, string> {
  const defined = new Map<string, string>();
  for (const file of [...sources(join(root, 'apps')), ...sources(join(root, 'libs'))]) {
    const text = readFileSync(join(root, file), 'utf8');
    if (!text.includes("from 'prom-client'")) continue;
    for (const match of text.matchAll(/new (Counter|Gauge|Histogram|Summary)\(\{\s*name: '([a-z_][a-z0-9_]*)'/g)) defined.set(match[2], match[1]);
  }
  return defined;
}

/** The metric names a PromQL expression reads (a histogram's series by its base name). */
function metricsOf(expr: string): string[] {
  const names = expr.match(/\b(muelle|process|nodejs)_[a-z0-9_]+/g) ?? [];
  return names.map((name) => name.replace(/_(bucket|sum|count)$/, ''));
}

describe('monitoring: the Grafana dashboard and the Prometheus scrape config', () => {
  const exprs: string[] = dashboard.panels.flatMap((panel: { targets?: Array<{ expr: string }> }) => (panel.targets ?? []).map((t) => t.expr));

  it('is a dashboard Grafana can import: panels with ids, positions and Prometheus queries', () => {
    expect(dashboard).toMatchObject({ title: 'Muelle', uid: expect.any(String), schemaVersion: expect.any(Number) });
    const ids = dashboard.panels.map((p: { id: number }) => p.id);
    expect(new Set(ids).size).toBe(ids.length);
    for (const panel of dashboard.panels) expect(panel.gridPos).toMatchObject({ h: expect.any(Number), w: expect.any(Number), x: expect.any(Number), y: expect.any(Number) });
    expect(exprs.length).toBeGreaterThan(20);
  });

  it('queries only metrics some service exports', () => {
    const defined = definedMetrics();
    const defaults = new Registry();
    collectDefaultMetrics({ register: defaults });
    const missing = [...new Set(exprs.flatMap(metricsOf))].filter((name) => !defined.has(name) && !defaults.getSingleMetric(name));
    expect(missing).toEqual([]);
    // Histogram series only for histograms.
    for (const expr of exprs) {
      for (const series of expr.match(/\bmuelle_[a-z0-9_]+_(bucket|sum|count)\b/g) ?? []) {
        expect([series, defined.get(series.replace(/_(bucket|sum|count)$/, ''))]).toEqual([series, 'Histogram']);
      }
    }
  });

  it('shows what an operator asked for: containers, hosts, pulls, registry by team, GC, builds, scheduler, bus', () => {
    const read = new Set(exprs.flatMap(metricsOf));
    for (const name of [
      'muelle_containers',
      'muelle_host_capacity',
      'muelle_host_reserved',
      'muelle_image_pulls_total',
      'muelle_image_pull_bytes_total',
      'muelle_image_pull_duration_seconds',
      'muelle_registry_pushes_total',
      'muelle_registry_pulls_total',
      'muelle_registry_bytes_total',
      'muelle_registry_errors_total',
      'muelle_registry_gc_runs_total',
      'muelle_registry_gc_freed_bytes_total',
      'muelle_builds_total',
      'muelle_build_duration_seconds',
      'muelle_scheduler_decisions_total',
      'muelle_scheduler_refusals_total',
      'muelle_bus_request_duration_seconds',
    ]) {
      expect([name, read.has(name)]).toEqual([name, true]);
    }
  });

  it("scrapes every service's default port", () => {
    const config = parse(readFileSync(join(__dirname, 'prometheus.yml'), 'utf8'));
    const targets: string[] = config.scrape_configs.flatMap((job: { static_configs: Array<{ targets: string[] }> }) => job.static_configs.flatMap((c) => c.targets));
    expect(targets.map((t) => t.split(':')[1]).sort()).toEqual(['2375', '5000', '7101', '7102', '7103']);
  });
});
