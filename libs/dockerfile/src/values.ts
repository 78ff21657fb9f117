import { DockerfileSemanticError } from './errors';

/** One EXPOSE entry: `80`, `80/tcp`, `53/udp`, `8000-8010/tcp`. */
export interface PortSpec {
  start: number;
  end: number;
  protocol: 'tcp' | 'udp' | 'sctp';
}

const PORT_SPEC = /^(\d+)(?:-(\d+))?(?:\/([A-Za-z]+))?$/;

export function parsePortSpec(text: string, line?: number): PortSpec {
  const match = PORT_SPEC.exec(text);
  const fail = (detail: string): never => {
    throw new DockerfileSemanticError(`invalid EXPOSE port ${JSON.stringify(text)}: ${detail}`, line);
  };
  if (!match) return fail('expected <port>[-<port>][/tcp|udp|sctp]');
  const start = Number(match[1]);
  const end = match[2] === undefined ? start : Number(match[2]);
  const protocol = (match[3] ?? 'tcp').toLowerCase();
  if (start > 65535 || end > 65535) fail('port numbers must be at most 65535');
  if (end < start) fail('the range end is below its start');
  if (protocol !== 'tcp' && protocol !== 'udp' && protocol !== 'sctp') fail(`unknown protocol ${protocol}`);
  return { start, end, protocol: protocol as PortSpec['protocol'] };
}

/** The image-config `ExposedPorts` keys for a spec (`80/tcp`; a range gives one key per port). */
export function exposedPortKeys(spec: PortSpec): string[] {
  const keys: string[] = [];
  for (let port = spec.start; port <= spec.end; port++) keys.push(`${port}/${spec.protocol}`);
  return keys;
}

const LINUX_SIGNALS = [
  'HUP', 'INT', 'QUIT', 'ILL', 'TRAP', 'ABRT', 'IOT', 'BUS', 'FPE', 'KILL', 'USR1', 'SEGV', 'USR2', 'PIPE',
  'ALRM', 'TERM', 'STKFLT', 'CHLD', 'CLD', 'CONT', 'STOP', 'TSTP', 'TTIN', 'TTOU', 'URG', 'XCPU', 'XFSZ',
  'VTALRM', 'PROF', 'WINCH', 'IO', 'POLL', 'PWR', 'SYS', 'UNUSED',
];

/** STOPSIGNAL accepts `SIGTERM`, `TERM`, `15`, `SIGRTMIN+3` (moby/sys/signal rules, Linux table). */
export function validateStopSignal(text: string, line?: number): string {
  const fail = (): never => {
    throw new DockerfileSemanticError(`invalid signal: ${text}`, line);
  };
  if (/^\d+$/.test(text)) {
    const number = Number(text);
    if (number < 1 || number > 64) fail();
    return text;
  }
  const name = text.toUpperCase().replace(/^SIG/, '');
  const realtime = /^RTM(IN|AX)([+-]\d+)?$/.exec(name);
  if (realtime) {
    const offset = Number(realtime[2] ?? '0');
    if ((realtime[1] === 'IN' && (offset < 0 || offset > 30)) || (realtime[1] === 'AX' && (offset > 0 || offset < -30))) fail();
    return text;
  }
  if (!LINUX_SIGNALS.includes(name)) fail();
  return text;
}
