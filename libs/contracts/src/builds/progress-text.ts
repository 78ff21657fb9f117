// No zod here (types only): the CLI imports this file alone, to start without loading the contracts.
import type { BuildProgressEvent } from './builds.contracts';

/**
 * A progress event as the text `docker build` prints for it, so the `muelle` CLI and the Docker
 * Engine API show builds alike. `announcePushes` adds the push lines docker leaves out;
 * `terminateOutput` ends RUN output with a newline for line-oriented terminals.
 */
export function describeBuildProgress(event: BuildProgressEvent, options: { announcePushes?: boolean; terminateOutput?: boolean } = {}): string {
  switch (event.type) {
    case 'step':
      return `Step ${event.index}/${event.total} : ${event.instruction}\n`;
    case 'cache-hit':
      return ' ---> Using cache\n';
    case 'output':
      return options.terminateOutput && !event.data.endsWith('\n') ? `${event.data}\n` : event.data;
    case 'step-done':
      return event.layer ? ` ---> ${event.layer.replace(/^sha256:/, '').slice(0, 12)}\n` : '';
    case 'pulling':
      return `Pulling ${event.reference}\n`;
    case 'pushing':
      return options.announcePushes ? `Pushing ${event.reference}\n` : '';
    case 'pushed':
      return options.announcePushes ? `Pushed ${event.reference}@${event.digest}\n` : '';
    case 'message':
      return `${event.text}\n`;
    default:
      return '';
  }
}
