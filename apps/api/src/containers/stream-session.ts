import { BusClient, Frame, newStreamId, StreamEnd } from '@muelle/bus';
import { fromWire, InternalError, isWireError, MuelleError } from '@muelle/contracts';

export interface SessionHandlers {
  onOutput(stream: 'stdout' | 'stderr', data: Buffer): void;
  onExit(exitCode: number): void;
  onError(error: MuelleError): void;
}

/** The caller's side of one agent byte stream (logs -f, attach, exec), after the handshake. */
export interface StreamSession {
  readonly id: string;
  stdin(data: Uint8Array): void;
  closeStdin(): void;
  resize(rows: number, cols: number): void;
  /** Stops listening and tells the agent (an Error frame): it stops sending; the workload keeps running (exec, attach). */
  close(): void;
}

/**
 * Opens a stream the agent protocol's way: our end first, then the request that names it, then
 * `Ready` once the agent answered — so no output is lost — and exactly one `Exit` or `Error` at the end.
 */
export async function openStreamSession<T>(bus: BusClient, request: (streamId: string) => Promise<T>, handlers: SessionHandlers): Promise<{ session: StreamSession; reply: T }> {
  const id = newStreamId();
  let finished = false;
  const finish = () => {
    finished = true;
    end.close();
  };
  const end = new StreamEnd(bus.streams(), id, 'client', (type, payload) => {
    if (finished) return;
    if (type === Frame.Stdout) handlers.onOutput('stdout', Buffer.from(payload));
    else if (type === Frame.Stderr) handlers.onOutput('stderr', Buffer.from(payload));
    else if (type === Frame.Exit) {
      finish();
      handlers.onExit(Number(parseJson(payload)?.exitCode ?? 0));
    } else if (type === Frame.Error) {
      finish();
      const wire = parseJson(payload);
      handlers.onError(isWireError(wire) ? fromWire(wire) : new InternalError('stream failed'));
    }
  });
  let reply: T;
  try {
    reply = await request(id);
  } catch (error) {
    finish();
    throw error;
  }
  end.send(Frame.Ready);
  const session: StreamSession = {
    id,
    stdin: (data) => !finished && end.send(Frame.Stdin, data),
    closeStdin: () => !finished && end.send(Frame.StdinEnd),
    resize: (rows, cols) => !finished && end.sendJson(Frame.Resize, { rows, cols }),
    close: () => {
      if (finished) return;
      // Tells the agent the caller left, so it stops following output nobody reads.
      end.sendJson(Frame.Error, { code: 'CANCELLED', message: 'the caller closed the stream' });
      finish();
    },
  };
  return { session, reply };
}

function parseJson(payload: Buffer): any {
  try {
    return JSON.parse(payload.toString('utf8'));
  } catch {
    return undefined; // not JSON: a frame without a readable payload
  }
}
