import { Command } from 'commander';
import { CliError } from '../errors';
import { ProgressDisplay } from '../progress';
import { apiClient } from './common';
import type { Io } from '../commands';

/** `muelle tag`, `push` and `rmi`: names of images in the platform registry. */
export function registerImageNameCommands(program: Command, io: Io): void {
  program
    .command('tag')
    .description('Give an image of the platform registry another name')
    .argument('<source>')
    .argument('<target>')
    .action(async (source: string, target: string) => {
      await apiClient().request('POST', '/v1/images/tag', {
        body: { source, target },
      });
    });

  program
    .command('push')
    .description('Send an image to the registry its name points to')
    .argument('<image>')
    .option('--registry-user <user>', 'username for the target registry')
    .option('--registry-password <password>', 'password for the target registry')
    .action(async (image: string, o) => {
      const api = apiClient();
      const targetAuth = o.registryUser ? { username: o.registryUser, password: o.registryPassword ?? '' } : undefined;
      const response = await api.send('POST', '/v1/images/push', {
        body: { image, targetAuth },
        accept: 'application/x-ndjson',
      });
      const display = new ProgressDisplay(io.out);
      for await (const line of api.lines(response)) {
        if (line.error) throw new CliError(line.error.message, 125, line.error.code);
        if (line.status === 'done') io.out.write(`${image}: digest: ${line.digest}\n`);
        else display.update(line);
      }
    });

  program
    .command('rmi')
    .description('Remove images from the platform registry')
    .argument('<images...>')
    .option('--hosts', 'also forget them on every host')
    .option('-f, --force', 'even when containers use them on a host')
    .action(async (images: string[], o) => {
      const api = apiClient();
      let failed = false;
      for (const image of images) {
        try {
          const reply = await api.request('DELETE', '/v1/images', {
            query: { image, hosts: !!o.hosts, force: !!o.force },
          });
          for (const name of reply.untagged ?? [reply.removed]) io.out.write(`Untagged: ${name}\n`);
          if (reply.id) io.out.write(`Deleted: ${reply.id}\n`);
        } catch (error) {
          failed = true;
          io.err.write(`Error response from daemon: ${(error as Error).message}\n`);
        }
      }
      if (failed) io.exitCode = 1;
    });
}
