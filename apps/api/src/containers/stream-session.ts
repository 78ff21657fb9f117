import { BusClient, creditOf, CreditedSender, CreditGrants, creditSender, Frame, isPeerSilent, newStreamId, readyPayload, StreamEnd, STREAM_WINDOW_BYTES } from '@muelle/bus';
import { detachError, fromWire, InternalError, isWireError, MuelleError, UnavailableError } from '@muelle/contracts';

export interface SessionHandlers {
  /**
   * Output for the client. A promise says when the client's connection took it (a socket's or
   * WebSocket's write callback): only then is its credit given back to the agent, so a client
   * that reads slowly slows the agent's reading instead of filling our memory.
   */
  onOutput(stream: 'stdout' | 'stderr', data: Buffer): void | Promise<unknown>;
  onExit(exitCode: number): void;
  onError(error: MuelleError): void;
}

/** The caller's side of one agent byte stream (logs -f, attach, exec), after the handshake. */
export interface StreamSession {
  readonly id: string;
  /** Stdin within the agent's credit; false: stop reading the client until `stdinDrained()`. */
  stdin(data: Uint8Array): boolean;
  stdinDrained(): Promise<void>;
  closeStdin(): void;
  resize(rows: number, cols: number): void;
  /** Stops listening and tells the agent (an Error frame): it stops sending; the workload keeps running (exec, attach). */
  close(): void;
  /** Leaves as the user's detach keys do: like close(), but an exec's process keeps its stdin open (see the agent contract). */
  detach(): void;
}

/** Resolves once `write` called back: the bytes left for the client's kernel buffer (or the connection failed). */
export const written = (write: (done: () => void) => unknown) => new Promise<void>((resolve) => void write(() => resolve()));

/**
 * Opens a stream the agent protocol's way: our end first, then the request that names it, then
 * `Ready` (with the output window we grant) once the agent answered — so no output is lost — and
 * exactly one `Exit` or `Error` at the end. Both directions are credit-based (`stream-credit.ts`).
 */
export async function openStreamSession<T>(bus: BusClient, request: (streamId: string) => Promise<T>, handlers: SessionHandlers): Promise<{ session: StreamSession; reply: T }> {
  const id = newStreamId();
  let finished = false;
  const finish = () => {
    finished = true;
    input.release();
    end.close();
  };
  // Tells the agent the caller left, so it stops following output nobody reads.
  const cancel = (detached = false) => {
    if (finished) return;
    end.sendJson(Frame.Error, detached ? detachError() : { code: 'CANCELLED', message: 'the caller closed the stream' });
    finish();
  };
  const send = (type: Parameters<StreamEnd['send']>[0], payload?: Uint8Array | string) => end.send(type, payload);
  const output = new CreditGrants(creditSender(send), STREAM_WINDOW_BYTES);
  // Stdin waits for the agent's credit (its first grant follows our Ready).
  const input = new CreditedSender(send);
  const onOutput = (stream: 'stdout' | 'stderr', payload: Buffer) => {
    if (!output.received(payload.length)) {
      cancel();
      return handlers.onError(new UnavailableError('the agent sent more output than it was granted'));
    }
    const bytes = payload.length;
    const taken = handlers.onOutput(stream, Buffer.from(payload));
    if (!taken) return output.delivered(bytes);
    void taken.then(
      () => !finished && output.delivered(bytes),
      () => !finished && output.delivered(bytes),
    );
  };
  const end = new StreamEnd(bus.streams(), id, 'client', (type, payload) => {
    if (finished) return;
    if (type === Frame.Stdout) onOutput('stdout', payload);
    else if (type === Frame.Stderr) onOutput('stderr', payload);
    else if (type === Frame.Credit) input.grant(creditOf(payload));
    else if (type === Frame.Exit) {
      finish();
      handlers.onExit(Number(parseJson(payload)?.exitCode ?? 0));
    } else if (type === Frame.Error) {
      finish();
      const wire = parseJson(payload);
      if (isPeerSilent(wire)) handlers.onError(new UnavailableError(`the container's host stopped answering (${wire.message})`));
      else handlers.onError(isWireError(wire) ? fromWire(wire) : new InternalError('stream failed'));
    }
  });
  let reply: T;
  try {
    reply = await request(id);
  } catch (error) {
    finish();
    throw error;
  }
  // The agent took the stream: from now on its silence means it is gone (stream-liveness.ts).
  end.expectPeer();
  end.send(Frame.Ready, readyPayload(output.window));
  const session: StreamSession = {
    id,
    stdin: (data) => finished || input.write(Frame.Stdin, data),
    stdinDrained: () => input.drained(),
    // After the stdin still waiting for credit.
    closeStdin: () => !finished && input.control(Frame.StdinEnd),
    resize: (rows, cols) => !finished && end.sendJson(Frame.Resize, { rows, cols }),
    close: () => cancel(),
    detach: () => cancel(true),
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
