import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { Command } from 'commander';
import { ApiClient } from '../client';
import type { Io } from '../commands';
import type { StackNetwork, StackService } from '../compose/compose-file';
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

/** The Muelle network a file's network is: `<stack>_<key>`, or the existing one an external network names. */
export const stackNetworkName = (stack: string, network: StackNetwork) => (network.external ? (network.name ?? network.key) : `${stack}_${network.key}`);

/**
 * Makes the stack's networks that do not exist yet (labelled with the stack, so `stack rm` finds
 * them); an external one must exist. One that exists with other options is an error, as in Swarm:
 * a network's subnet and reach cannot change under running tasks.
 */
async function ensureNetworks(api: ApiClient, io: Io, stack: string, networks: StackNetwork[]): Promise<void> {
  const { items } = await api.request('GET', '/v1/networks');
  for (const network of networks) {
    const name = stackNetworkName(stack, network);
    const existing = items.find((n: any) => n.name === name);
    if (network.external) {
      if (!existing) throw new CliError(`network ${name} is declared external but does not exist: create it first (muelle network create ${name})`);
      continue;
    }
    if (existing) {
      if (existing.driver !== network.driver || existing.internal !== network.internal || existing.labels?.[STACK_LABEL] !== stack)
        throw new CliError(`network ${name} exists with other options (driver ${existing.driver}, internal ${existing.internal}${existing.labels?.[STACK_LABEL] === stack ? '' : ', not made by this stack'}): remove the stack first (muelle stack rm ${stack})`);
      continue;
    }
    await api.request('POST', '/v1/networks', { body: { name, driver: network.driver, internal: network.internal, labels: { ...network.labels, [STACK_LABEL]: stack } } });
    io.out.write(`Creating network ${name}\n`);
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
      const { parseComposeStack } = await import('../compose/compose-file');
      const { services, networks } = parseComposeStack(readFileSync(file, 'utf8'), o.composeFile, (path) => readFileSync(resolve(dirname(file), path), 'utf8'));
      const api = apiClient();
      await ensureNetworks(api, io, name, networks);
      const byKey = new Map(networks.map((n) => [n.key, n]));
      const existing = new Map((await servicesOf(api, name)).map((s) => [s.name, s]));
      for (const service of deployOrder(services)) {
        for (const dep of service.dependsOn) await waitFor(api, `${name}-${dep.service}`, dep.condition);
        const fullName = `${name}-${service.name}`;
        // Its compose name is an alias on each network, so `web` answers as the service `<stack>-web` (Swarm's stack DNS).
        const joined = service.networks.map((n) => ({ name: stackNetworkName(name, byKey.get(n.key)!), aliases: [...new Set([service.name, ...n.aliases])] }));
        const spec = { ...service.spec, networks: joined, labels: { ...(service.spec.labels as object), [STACK_LABEL]: name } };
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
        const networks = (await api.request('GET', '/v1/networks')).items.filter((x: any) => x.labels?.[STACK_LABEL] === name);
        if (!services.length && !networks.length) throw new CliError(`no such stack: ${name}`);
        for (const s of services) {
          await api.request('DELETE', `/v1/services/${s.id}`);
          io.out.write(`Removing service ${s.name}\n`);
        }
        // Then the networks it made (not external ones: they carry no stack label); its tasks are gone by now.
        for (const n of networks) {
          await api.request('DELETE', `/v1/networks/${n.id}`);
          io.out.write(`Removing network ${n.name}\n`);
        }
      }
    });

  return stack;
}
