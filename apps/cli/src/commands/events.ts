import { Command } from 'commander';
import type { Io } from '../commands';
import { CliError } from '../errors';
import { collect, parseTimeBound } from '../parse';
import type { HttpResponse } from '../http';
import { apiClient, formatOption } from './common';

interface EventLine {
  type: string;
  action: string;
  id: string;
  at: string;
  attributes: Record<string, unknown>;
  labels?: Record<string, string>;
}

/** `muelle events`: like `docker events` — the history from `--since`, then live events until `--until` or Ctrl-C. */
export function registerEventsCommand(program: Command, io: Io): void {
  program
    .command('events')
    .description('Container, image and host events you may see: the history from --since, then live ones (until --until or Ctrl-C)')
    .option('--since <time>', 'replay events from then: 10m, 1h30m, unix seconds or RFC 3339')
    .option('--until <time>', 'stop at this time (in the past: only the history)')
    .option('-f, --filter <key=value>', 'type=, event=, container=, image=, label=k[=v] (as docker events)', collect, [])
    .addOption(formatOption())
    .action(async (o: { since?: string; until?: string; filter: string[]; format: string }) => {
      const now = Date.now();
      const query = {
        since: o.since !== undefined ? parseTimeBound(o.since, '--since', now) : undefined,
        until: o.until !== undefined ? parseTimeBound(o.until, '--until', now) : undefined,
        filter: o.filter,
      };
      const response = await apiClient().send('GET', '/v1/events', { query, accept: 'text/event-stream' });
      for await (const { event, data } of serverSentEvents(response)) {
        if (event === 'error') throw new CliError(`events: ${(data as { message?: string }).message ?? 'the stream failed'}`);
        const line = data as EventLine;
        io.out.write(o.format === 'json' ? `${JSON.stringify(line)}\n` : `${formatEvent(line)}\n`);
      }
    });
}

/** Docker's text form: `<time> <type> <action> <id> (key=value, …)`, labels first. */
export function formatEvent(event: EventLine): string {
  const attributes = Object.entries({ ...event.labels, ...event.attributes })
    .filter(([, v]) => v !== null && v !== undefined)
    .map(([k, v]) => `${k}=${String(v)}`)
    .sort();
  return `${event.at} ${event.type} ${event.action} ${event.id}${attributes.length ? ` (${attributes.join(', ')})` : ''}`;
}

/** The `event:`/`data:` records of a text/event-stream body; comments (keep-alives) are skipped. */
async function* serverSentEvents(response: HttpResponse): AsyncGenerator<{ event: string; data: unknown }> {
  const decoder = new TextDecoder();
  let buffer = '';
  let event = 'message';
  let data = '';
  for await (const chunk of response.body as AsyncIterable<Uint8Array>) {
    buffer += decoder.decode(chunk, { stream: true });
    let newline: number;
    while ((newline = buffer.indexOf('\n')) >= 0) {
      const line = buffer.slice(0, newline).replace(/\r$/, '');
      buffer = buffer.slice(newline + 1);
      if (line === '') {
        if (data) yield { event, data: JSON.parse(data) };
        event = 'message';
        data = '';
      } else if (line.startsWith('event: ')) event = line.slice(7);
      else if (line.startsWith('data: ')) data += line.slice(6);
    }
  }
}
