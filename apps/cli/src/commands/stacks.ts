import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { Command } from 'commander';
import { ApiClient } from '../client';
import type { Io } from '../commands';
import type { ComposeStack, StackService } from '../compose/compose-file';
import { buildImage } from './build';
import { planStackNetworks, serviceNetworksOf, STACK_NETWORK_LABEL } from '../compose/stack-networks';
import { CliError } from '../errors';
import { containerStatus, shortId, table } from '../format';
import { apiClient, formatOption, printJson } from './common';

/** Services of a stack carry this label (as `docker stack` uses com.docker.stack.namespace). */
export const STACK_LABEL = 'muelle.stack';
const WAIT_MS = 180_000;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Dependencies first; a cycle is an error naming it. */
export function deployOrder(services: StackService[]): StackService[] {
  const byName = new Map(services.map((s) => [s.name, s]));
  const done = new Set<string>();
  const order: StackService[] = [];
  const visit = (service: StackService, path: string[]) => {
    if (done.has(service.name)) return;
    if (path.includes(service.name)) throw new CliError(`depends_on has a cycle: ${[...path, service.name].join(' → ')}`);
    for (const dep of service.dependsOn) visit(byName.get(dep.service)!, [...path, service.name]);
    done.add(service.name);
    order.push(service);
  };
  for (const service of services) visit(service, []);
  return order;
}

async function servicesOf(api: ApiClient, stack: string): Promise<any[]> {
  const { items } = await api.request('GET', '/v1/services');
  return items.filter((s: any) => s.spec.labels?.[STACK_LABEL] === stack);
}

/** Waits until every replica of the current version runs (and is healthy, for service_healthy). */
async function waitFor(api: ApiClient, name: string, condition: 'service_started' | 'service_healthy'): Promise<void> {
  const deadline = Date.now() + WAIT_MS;
  for (;;) {
    const service = await api.request('GET', `/v1/services/${name}`);
    const { items } = await api.request('GET', `/v1/services/${name}/tasks`);
    const up = items.filter((t: any) => t.state === 'running' && t.labels['muelle.service.version'] === String(service.version) && (condition === 'service_started' || t.health === 'healthy'));
    if (up.length >= service.spec.replicas) return;
    if (Date.now() > deadline) throw new CliError(`${name} is not ${condition === 'service_healthy' ? 'healthy' : 'running'} after ${WAIT_MS / 1000} s (${up.length}/${service.spec.replicas}): its dependents were not deployed`);
    await sleep(500);
  }
}

/**
 * Builds every service with `build:` through the api's builder, tagged with its `image:` (or
 * `<team>/<stack>_<service>:latest` in the caller's team) and returns the images to deploy, pinned
 * by the pushed digest: a redeploy whose build changed nothing leaves the service as it is, one
 * whose image changed rolls it out.
 */
export async function buildStackImages(api: ApiClient, io: Io, stack: string, compose: ComposeStack, dir: string): Promise<Map<string, string>> {
  const images = new Map<string, string>();
  const built = compose.services.filter((s) => s.build);
  if (!built.length) return images;
  const me = await api.request('GET', '/v1/me');
  for (const service of built) {
    const build = service.build!;
    const given = service.spec.image as string | undefined;
    if (!given && !me.teamName) throw new CliError(`services.${service.name}: give it an image: name to build as (you are in no team, so there is no team repository to push ${stack}_${service.name} to)`);
    const tag = given ?? `${me.teamName}/${stack}_${service.name}:latest`;
    io.out.write(`Building ${service.name} as ${tag}\n`);
    const result = await buildImage(api, io, resolve(dir, build.context), { tags: [tag], dockerfile: build.dockerfile, buildArgs: build.args, target: build.target, quiet: true });
    const pushed = result.pushed[0];
    if (!pushed) throw new CliError(`services.${service.name}: the build of ${tag} pushed nothing`);
    const bare = pushed.reference.slice(0, pushed.reference.lastIndexOf('/') + 1) + pushed.reference.slice(pushed.reference.lastIndexOf('/') + 1).split(/[:@]/)[0];
    images.set(service.name, `${bare}@${pushed.digest}`);
  }
  return images;
}

/** A network the stack made and no longer uses; one still in use stays, said so (a later deploy or rm tries again). */
async function removeNetwork(api: ApiClient, io: Io, network: { id: string; name: string }, why: string): Promise<void> {
  try {
    await api.request('DELETE', `/v1/networks/${network.id}`);
    io.out.write(`Removing network ${network.name}\n`);
  } catch (error) {
    if (!(error instanceof CliError) || error.code !== 'CONFLICT') throw error;
    io.err.write(`Network ${network.name} kept: ${why} (${error.message})\n`);
  }
}

/** `muelle stack deploy|ls|services|ps|rm`. */
export function registerStackCommands(program: Command, io: Io): Command {
  const stack = program.command('stack').description('Stacks: the services of a Compose file, deployed together');

  stack
    .command('deploy')
    .argument('<stack>')
    .requiredOption('-c, --compose-file <file>', 'Compose file')
    .option('--prune', 'remove services of the stack no longer in the file')
    .action(async (name: string, o) => {
      if (!/^[a-z0-9]([a-z0-9-]{0,18}[a-z0-9])?$/.test(name)) throw new CliError(`invalid stack name "${name}": lowercase letters, digits and - (at most 20)`);
      const file = resolve(o.composeFile);
      // The compose parser (and its YAML library) loads only for `stack deploy`, not at every start.
      const { parseComposeFile } = await import('../compose/compose-file');
      const compose = parseComposeFile(readFileSync(file, 'utf8'), o.composeFile, (path) => readFileSync(resolve(dirname(file), path), 'utf8'));
      const api = apiClient();
      const images = await buildStackImages(api, io, name, compose, dirname(file));
      const networks = planStackNetworks(name, compose, (await api.request('GET', '/v1/networks')).items);
      for (const body of networks.create) {
        await api.request('POST', '/v1/networks', { body });
        io.out.write(`Creating network ${body.name}\n`);
      }
      const existing = new Map((await servicesOf(api, name)).map((s) => [s.name, s]));
      for (const service of deployOrder(compose.services)) {
        for (const dep of service.dependsOn) await waitFor(api, `${name}-${dep.service}`, dep.condition);
        const fullName = `${name}-${service.name}`;
        const spec = { ...service.spec, ...(images.has(service.name) && { image: images.get(service.name) }), networks: serviceNetworksOf(name, compose, service), labels: { ...(service.spec.labels as object), [STACK_LABEL]: name } };
        const before = existing.get(fullName);
        if (!before) {
          await api.request('POST', '/v1/services', { body: { name: fullName, ...spec } });
          io.out.write(`Creating service ${fullName}\n`);
        } else {
          const after = await api.request('PUT', `/v1/services/${fullName}`, { body: spec });
          io.out.write(after.updatedAt === before.updatedAt ? `Unchanged service ${fullName}\n` : `Updating service ${fullName} (version ${after.version}, ${after.updateState})\n`);
        }
        existing.delete(fullName);
      }
      for (const leftover of existing.keys()) {
        if (!o.prune) continue;
        await api.request('DELETE', `/v1/services/${leftover}`);
        io.out.write(`Removing service ${leftover}\n`);
      }
      for (const network of networks.remove) await removeNetwork(api, io, network, 'its tasks are still being replaced: the next deploy removes it');
    });

  stack
    .command('ls')
    .addOption(formatOption())
    .action(async (o) => {
      const { items } = await apiClient().request('GET', '/v1/services');
      const stacks = new Map<string, number>();
      for (const s of items) if (s.spec.labels?.[STACK_LABEL]) stacks.set(s.spec.labels[STACK_LABEL], (stacks.get(s.spec.labels[STACK_LABEL]) ?? 0) + 1);
      if (o.format === 'json') return printJson(io, [...stacks].map(([stackName, count]) => ({ name: stackName, services: count })));
      io.out.write(table(['NAME', 'SERVICES'], [...stacks].map(([stackName, count]) => [stackName, String(count)])));
    });

  stack
    .command('services')
    .argument('<stack>')
    .addOption(formatOption())
    .action(async (name: string, o) => {
      const services = await servicesOf(apiClient(), name);
      if (o.format === 'json') return printJson(io, services);
      io.out.write(table(['ID', 'NAME', 'REPLICAS', 'IMAGE', 'UPDATE'], services.map((s) => [shortId(s.id), s.name, String(s.spec.replicas), s.spec.image, s.updateState])));
    });

  stack
    .command('ps')
    .argument('<stack>')
    .addOption(formatOption())
    .action(async (name: string, o) => {
      const api = apiClient();
      const tasks = [];
      for (const s of await servicesOf(api, name)) tasks.push(...(await api.request('GET', `/v1/services/${s.id}/tasks`)).items);
      if (o.format === 'json') return printJson(io, tasks);
      io.out.write(table(['TASK', 'NAME', 'HOST', 'STATUS'], tasks.map((t: any) => [shortId(t.id), t.name, t.hostId ?? '', containerStatus(t)])));
    });

  stack
    .command('rm')
    .argument('<stack...>')
    .action(async (names: string[]) => {
      const api = apiClient();
      for (const name of names) {
        const services = await servicesOf(api, name);
        if (!services.length) throw new CliError(`no such stack: ${name}`);
        for (const s of services) {
          await api.request('DELETE', `/v1/services/${s.id}`);
          io.out.write(`Removing service ${s.name}\n`);
        }
        const { items } = await api.request('GET', '/v1/networks');
        for (const network of items.filter((n: any) => n.labels?.[STACK_NETWORK_LABEL] === name)) await removeNetwork(api, io, network, 'something else still uses it');
      }
    });

  return stack;
}
