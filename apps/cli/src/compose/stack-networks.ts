import { CliError } from '../errors';
import type { ComposeStack, StackService } from './compose-file';

/** Networks a stack made carry this label (the same one as its services), so `stack rm` finds them. */
export const STACK_NETWORK_LABEL = 'muelle.stack';

/** A team network as `GET /v1/networks` lists it (the fields the plan looks at). */
export interface ExistingNetwork {
  id: string;
  name: string;
  driver: string;
  internal: boolean;
  labels: Record<string, string>;
}

export interface NetworkPlan {
  /** `POST /v1/networks` bodies, for networks the stack uses and does not have yet. */
  create: Array<{ name: string; driver: 'overlay' | 'bridge'; internal: boolean; labels: Record<string, string> }>;
  /** Networks the stack made that the file no longer uses: removed once the services left them. */
  remove: ExistingNetwork[];
}

/** The team network a file's network is: `<stack>_<name>` (Swarm's naming), or the external one's own name. */
export function teamNetworkName(stack: string, compose: ComposeStack, name: string): string {
  const network = compose.networks.find((n) => n.name === name);
  return network?.external ?? `${stack}_${name}`;
}

/**
 * What a deploy does to the stack's networks: makes those some service uses (Swarm makes `<stack>_default`
 * only when a service is on it), keeps those already there, removes those of the stack no service
 * uses any more. A network's driver or `internal` cannot change in place: that is refused, naming it.
 */
export function planStackNetworks(stack: string, compose: ComposeStack, existing: readonly ExistingNetwork[]): NetworkPlan {
  const used = new Set(compose.services.flatMap((s) => s.networks.map((n) => n.name)));
  const mine = existing.filter((n) => n.labels[STACK_NETWORK_LABEL] === stack);
  const plan: NetworkPlan = { create: [], remove: [] };
  const wanted = new Set<string>();
  for (const network of compose.networks) {
    if (!used.has(network.name) || network.external) continue;
    const name = teamNetworkName(stack, compose, network.name);
    wanted.add(name);
    const found = existing.find((n) => n.name === name);
    if (!found) {
      plan.create.push({ name, driver: network.driver, internal: network.internal, labels: { [STACK_NETWORK_LABEL]: stack } });
      continue;
    }
    if (found.labels[STACK_NETWORK_LABEL] !== stack) throw new CliError(`network ${name} exists and is not stack ${stack}'s: remove or rename it, or declare ${network.name} external`);
    if (found.driver !== network.driver || found.internal !== network.internal)
      throw new CliError(`network ${name} is ${found.driver}${found.internal ? ', internal' : ''}; the file asks for ${network.driver}${network.internal ? ', internal' : ''}: a network cannot change in place (muelle stack rm ${stack} first)`);
  }
  plan.remove = mine.filter((n) => !wanted.has(n.name));
  return plan;
}

/**
 * A service's `networks` in its spec: the team networks, each with the file's aliases plus the
 * service's short compose name, so the stack's services find each other as `web` (Swarm's rule);
 * the full service name `<stack>-web` resolves too, as every service's name does.
 */
export function serviceNetworksOf(stack: string, compose: ComposeStack, service: StackService): Array<{ network: string; aliases: string[] }> {
  return service.networks.map((n) => ({ network: teamNetworkName(stack, compose, n.name), aliases: [...new Set([service.name, ...n.aliases])] }));
}
