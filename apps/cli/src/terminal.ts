import { Frame } from '@muelle/contracts/stream-frames';
import type { WebSocket } from 'ws';
import { CliError } from './errors';

/** Local input the CLI lets wait in its WebSocket before it stops reading it. */
const INPUT_BACKLOG_BYTES = 1024 * 1024;

export interface TerminalOptions {
  tty: boolean;
  stdin: boolean;
  input?: NodeJS.ReadStream;
  output?: NodeJS.WriteStream;
  errorOutput?: NodeJS.WriteStream;
  /** The detach keys ended the session: the container keeps running. */
  onDetached?: () => void;
}

/**
 * Runs an interactive session over the API's WebSocket: local stdin → Stdin frames (raw mode on
 * a TTY), output frames → stdout/stderr, SIGWINCH → Resize. Resolves with the exit code.
 */
export function runTerminal(ws: WebSocket, options: TerminalOptions): Promise<number> {
  const input = options.input ?? process.stdin;
  const output = options.output ?? process.stdout;
  const errorOutput = options.errorOutput ?? process.stderr;
  return new Promise((resolve, reject) => {
    let settled = false;
    let rawMode = false;
    const cleanup = () => {
      input.off('data', onInput);
      input.off('end', onInputEnd);
      process.off('SIGWINCH', onResize);
      if (rawMode) input.setRawMode(false);
      input.pause();
    };
    const settle = (fn: () => void) => {
      if (settled) return;
      settled = true;
      cleanup();
      fn();
    };
    const send = (type: number, payload: Uint8Array = new Uint8Array(), sent?: () => void) => {
      if (ws.readyState !== ws.OPEN) return;
      const frame = Buffer.alloc(payload.length + 1);
      frame[0] = type;
      frame.set(payload, 1);
      ws.send(frame, sent);
    };
    // Backpressure both ways: local input waits while the connection holds a backlog (the server
    // stops reading when the container's input is full), and the connection is paused while our
    // output cannot keep up (a slow pipe), so the server's credit stops the container's side.
    let inputPaused = false;
    const onSent = () => {
      if (inputPaused && ws.bufferedAmount < INPUT_BACKLOG_BYTES / 2) {
        inputPaused = false;
        input.resume();
      }
    };
    const onInput = (chunk: Buffer) => {
      send(Frame.Stdin, chunk, onSent);
      if (ws.bufferedAmount > INPUT_BACKLOG_BYTES && !inputPaused) {
        inputPaused = true;
        input.pause();
      }
    };
    const writeOut = (stream: NodeJS.WriteStream, payload: Buffer) => {
      if (stream.write(payload)) return;
      ws.pause();
      stream.once('drain', () => ws.resume());
    };
    const onInputEnd = () => send(Frame.StdinEnd);
    const onResize = () => output.columns && send(Frame.Resize, Buffer.from(JSON.stringify({ rows: output.rows, cols: output.columns })));

    ws.on('open', () => {
      if (options.stdin) {
        if (options.tty && input.isTTY) {
          input.setRawMode(true);
          rawMode = true;
        }
        input.on('data', onInput);
        input.on('end', onInputEnd);
        input.resume();
      }
      if (options.tty) process.on('SIGWINCH', onResize);
    });
    ws.on('unexpected-response', (_req, res) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += c));
      res.on('end', () => {
        let message = body;
        try {
          message = JSON.parse(body).error.message;
        } catch {
          // keep the raw text
        }
        settle(() => reject(new CliError(message || `HTTP ${res.statusCode}`)));
      });
    });
    ws.on('message', (data: Buffer) => {
      const type = data[0];
      const payload = data.subarray(1);
      if (type === Frame.Stdout) writeOut(output, payload);
      else if (type === Frame.Stderr) writeOut(errorOutput, payload);
      else if (type === Frame.Exit) {
        const exit = JSON.parse(payload.toString());
        settle(() => {
          if (exit.detached) options.onDetached?.();
          resolve(Number(exit.exitCode ?? 0));
        });
      }
      else if (type === Frame.Error) {
        const error = JSON.parse(payload.toString());
        settle(() => reject(new CliError(error.message ?? 'session failed', 125, error.code)));
      }
    });
    ws.on('error', (error) => settle(() => reject(new CliError(`session failed: ${error.message}`))));
    ws.on('close', () => settle(() => reject(new CliError('connection closed before the session ended'))));
  });
}
