import { describeBuildProgress } from '@muelle/contracts/builds/progress-text';
import { Command } from 'commander';
import type { ApiClient } from '../client';
import { packContext } from '../context';
import { CliError } from '../errors';
import { collect } from '../parse';
import { apiClient } from './common';
import type { Io } from '../commands';

export interface BuildOptions {
  tags: string[];
  /** Dockerfile path inside the context. */
  dockerfile: string;
  buildArgs: string[];
  target?: string;
  noCache?: boolean;
  quiet?: boolean;
}

/** What a finished build says: the image id and the tags pushed, each with its manifest digest. */
export interface BuiltImage {
  configDigest: string;
  pushed: Array<{ reference: string; digest: string }>;
}

/** Sends `context` to the platform's builder through the api, prints its progress, and returns what it pushed (`muelle build`, `stack deploy` of a service with `build:`). */
export async function buildImage(api: ApiClient, io: Io, context: string, o: BuildOptions): Promise<BuiltImage> {
  const response = await api.send('POST', '/v1/builds', {
    query: { t: o.tags, dockerfile: o.dockerfile, buildarg: o.buildArgs, target: o.target, nocache: !!o.noCache },
    raw: await packContext(context),
    accept: 'application/x-ndjson',
  });
  for await (const event of api.lines(response)) {
    if (event.error) {
      const where = event.error.details?.line ? ` (Dockerfile line ${event.error.details.line})` : '';
      throw new CliError(`${event.error.message}${where}`, 1, event.error.code);
    }
    if (event.status === 'done') {
      // The image id is the config digest, as Docker's: `muelle tag`, `run` and `rmi` take it or its short form.
      io.out.write(o.quiet ? `${event.configDigest}\n` : `Successfully built ${event.configDigest}\n`);
      if (!o.quiet) for (const pushed of event.pushed) io.out.write(`Successfully tagged ${pushed.reference}\n`);
      return { configDigest: event.configDigest, pushed: event.pushed };
    } else if (!o.quiet) io.out.write(describeBuildProgress(event, { announcePushes: true, terminateOutput: true }));
  }
  throw new CliError('the build ended without a result (the api closed the stream)');
}

/** `muelle build`: sends a context to the platform's builder and follows its progress. */
export function registerBuildCommand(program: Command, io: Io): void {
  program
    .command('build')
    .description('Build an image from a directory with a Dockerfile; tags are pushed to the platform registry')
    .argument('<context>', 'directory sent as the build context')
    .option('-t, --tag <name>', 'name:tag to push the result as (repeatable)', collect, [])
    .option('-f, --file <path>', 'Dockerfile path inside the context', 'Dockerfile')
    .option('--build-arg <KEY=value>', 'build argument', collect, [])
    .option('--target <stage>', 'stop at this stage')
    .option('--no-cache', 'do not use the layer cache')
    .option('-q, --quiet', 'print only the image id')
    .action(async (context: string, o) => {
      await buildImage(apiClient(), io, context, { tags: o.tag, dockerfile: o.file, buildArgs: o.buildArg, target: o.target, noCache: !o.cache, quiet: o.quiet });
    });
}
