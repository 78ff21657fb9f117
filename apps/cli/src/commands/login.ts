import { createInterface } from 'node:readline';
import type { Io } from '../commands';
import { CliError } from '../errors';
import { SecretPrompt } from './common';

/**
 * The username and password of `muelle login`, like `docker login`: flags first; `--password-stdin`
 * reads all of stdin; otherwise a terminal is asked (the password without echo) and anything else
 * is refused, since a script would hang on a prompt nobody answers.
 */
export async function loginCredentials(io: Io, options: { username?: string; password?: string; passwordStdin?: boolean }): Promise<{ username: string; password: string }> {
  if (options.password && options.passwordStdin) throw new CliError('--password and --password-stdin are mutually exclusive');
  let username = options.username;
  let password = options.password;
  if (options.passwordStdin) {
    if (!username) throw new CliError('--password-stdin needs --username');
    password = (await readAll(process.stdin)).replace(/\r?\n$/, '');
  }
  if (!username || password === undefined) {
    if (!process.stdin.isTTY) throw new CliError('cannot ask for credentials without a terminal: use --username with --password-stdin');
    username ||= await askVisible(io, 'Username: ');
    if (password === undefined) {
      const prompt = new SecretPrompt(io);
      try {
        password = await prompt.ask('Password: ');
      } finally {
        prompt.close();
      }
    }
  }
  if (!username) throw new CliError('a username is needed');
  if (!password) throw new CliError('a password is needed');
  return { username, password };
}

function askVisible(io: Io, question: string): Promise<string> {
  const rl = createInterface({ input: process.stdin, output: io.err, terminal: true });
  return new Promise((resolve) =>
    rl.question(question, (answer) => {
      rl.close();
      resolve(answer.trim());
    }),
  );
}

async function readAll(stream: NodeJS.ReadStream): Promise<string> {
  let text = '';
  for await (const chunk of stream) text += chunk;
  return text;
}
