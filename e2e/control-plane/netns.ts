import { spawn, spawnSync, ChildProcess } from 'node:child_process';

/** Runs `ip …`/`socat`; only tests build network namespaces. */
function sh(args: string[], allowFailure = false) {
  const result = spawnSync(args[0], args.slice(1), { encoding: 'utf8' });
  if (result.status !== 0 && !allowFailure) throw new Error(`${args.join(' ')} failed: ${result.stderr}`);
  return result;
}

/** Blocks until `address:port` listens (in a namespace when `prefix` enters one), or throws after 10 s. */
function waitListening(prefix: string[], address: string, port: number) {
  const command = [...prefix, 'ss', '-Hltn', `src ${address}:${port}`];
  for (let attempt = 0; attempt < 200; attempt++) {
    if (sh(command, true).stdout.trim()) return;
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 50);
  }
  throw new Error(`nothing listens on ${address}:${port} after 10 s (${command.join(' ')})`);
}

export interface SimulatedHost {
  name: string;
  /** The host's own address, reachable from the root namespace. */
  address: string;
}

/**
 * Hosts on one machine: each a network namespace with a veth into a bridge in the root
 * namespace (gateway `<prefix>.1`). Forwarders let agents inside reach loopback-only services
 * (NATS, the registry) of the root namespace under the same loopback addresses.
 */
export class SimulatedNetwork {
  readonly gateway: string;
  private readonly forwarders: ChildProcess[] = [];

  constructor(
    private readonly bridge: string,
    private readonly prefix: string,
    readonly hosts: SimulatedHost[],
  ) {
    this.gateway = `${prefix}.1`;
  }

  static available(): boolean {
    return process.getuid?.() === 0 && sh(['ip', 'netns', 'list'], true).status === 0 && sh(['which', 'socat'], true).status === 0;
  }

  setUp() {
    this.tearDown();
    sh(['ip', 'link', 'add', this.bridge, 'type', 'bridge']);
    sh(['ip', 'addr', 'add', `${this.gateway}/24`, 'dev', this.bridge]);
    sh(['ip', 'link', 'set', this.bridge, 'up']);
    this.hosts.forEach((host, index) => {
      const outside = `${this.bridge}v${index}`;
      sh(['ip', 'netns', 'add', host.name]);
      sh(['ip', 'link', 'add', outside, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', host.name]);
      sh(['ip', 'link', 'set', outside, 'master', this.bridge]);
      sh(['ip', 'link', 'set', outside, 'up']);
      sh(['ip', 'netns', 'exec', host.name, 'ip', 'addr', 'add', `${host.address}/24`, 'dev', 'eth0']);
      sh(['ip', 'netns', 'exec', host.name, 'ip', 'link', 'set', 'eth0', 'up']);
      sh(['ip', 'netns', 'exec', host.name, 'ip', 'link', 'set', 'lo', 'up']);
      sh(['ip', 'netns', 'exec', host.name, 'ip', 'route', 'add', 'default', 'via', this.gateway]);
    });
  }

  /**
   * Makes `127.0.0.1:port` inside every host reach `127.0.0.1:port` of the root namespace (via
   * the gateway), like a service every host can reach at a fixed address.
   */
  forwardLoopbackPort(port: number) {
    const relayPort = port + 20000 > 65535 ? port - 20000 : port + 20000;
    this.spawnForwarder(['socat', `TCP-LISTEN:${relayPort},bind=${this.gateway},fork,reuseaddr`, `TCP:127.0.0.1:${port}`]);
    for (const host of this.hosts) {
      this.spawnForwarder(['ip', 'netns', 'exec', host.name, 'socat', `TCP-LISTEN:${port},bind=127.0.0.1,fork,reuseaddr`, `TCP:${this.gateway}:${relayPort}`]);
    }
    // Listening before any agent dials: a connection a half-started relay drops makes the agent's
    // first NATS connect wait out its timeout (20 s) on a machine under load.
    waitListening([], this.gateway, relayPort);
    for (const host of this.hosts) waitListening(['ip', 'netns', 'exec', host.name], '127.0.0.1', port);
  }

  private spawnForwarder(args: string[]) {
    const child = spawn(args[0], args.slice(1), { stdio: 'ignore' });
    this.forwarders.push(child);
  }

  tearDown() {
    for (const child of this.forwarders.splice(0)) child.kill('SIGKILL');
    // Deleting the root-side end removes a veth pair even when a leftover process still holds the
    // host's namespace alive (`ip netns del` only drops its name).
    this.hosts.forEach((_, index) => sh(['ip', 'link', 'del', `${this.bridge}v${index}`], true));
    for (const host of this.hosts) sh(['ip', 'netns', 'del', host.name], true);
    sh(['ip', 'link', 'del', this.bridge], true);
  }
}
