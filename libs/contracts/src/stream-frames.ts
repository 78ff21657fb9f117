/**
 * Frame types of every byte stream (exec, attach, followed logs, build progress): the first byte of
 * each message, on the bus between api and agent and on the api's WebSocket to clients.
 */
export const Frame = {
  Stdin: 0,
  Stdout: 1,
  Stderr: 2,
  /** JSON `{rows, cols}` */
  Resize: 3,
  /** The client closed its input. */
  StdinEnd: 4,
  /** JSON `{exitCode, signal?}` — the last frame of a session. */
  Exit: 5,
  /** JSON `{code, message}` — the session failed; also last. */
  Error: 6,
  /** The client is listening: the server may start (so no early output is lost). On the bus, JSON `{window}`: the output credit it grants. */
  Ready: 7,
  /** JSON `{bytes}` — the receiver of a direction may be sent this many more payload bytes (flow control, libs/bus stream-credit.ts). */
  Credit: 8,
  /** No payload: the sender is alive (bus streams only, every second; libs/bus stream-liveness.ts). Never counted as credit. */
  KeepAlive: 9,
} as const;
export type FrameType = (typeof Frame)[keyof typeof Frame];

/** The `Error` frame payload of a caller that detaches (detach keys): the workload keeps running with its input open. */
export function detachError(): { code: 'CANCELLED'; message: string; details: { detached: true } } {
  return { code: 'CANCELLED', message: 'the caller detached', details: { detached: true } };
}

/** Whether an `Error` frame's payload is a detach (`detachError()`) rather than a caller that left or failed. */
export function isDetachError(payload: Uint8Array): boolean {
  try {
    return JSON.parse(Buffer.from(payload).toString('utf8'))?.details?.detached === true;
  } catch {
    return false; // not JSON: an ordinary error frame
  }
}
