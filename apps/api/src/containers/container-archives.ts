import { Injectable } from '@nestjs/common';
import type { Readable, Writable } from 'node:stream';
import { BusClient, ByteReceiver, CreditedSender, creditOf, Frame, newStreamId, sendBytes, StreamEnd } from '@muelle/bus';
import { agentContracts, CP_MAX_BYTES, fromWire, InternalError, isWireError, type MuelleError, type PathStat, UnavailableError } from '@muelle/contracts';
import { AuditLog } from '../audit/audit-log';
import type { RequestPrincipal } from '../auth/principal';
import { ContainersService } from './containers.service';

/** A reader or writer that moves no byte for this long is gone. */
const IDLE_MS = 120_000;

/**
 * `docker cp` / `muelle cp`: tars between a client and the agent that holds the container, over a
 * bus stream with credit both ways (libs/bus ByteReceiver/sendBytes), so neither side buffers more
 * than the window. Reading files is `read` on the container (like its logs); writing them is
 * `exec` (like running a command in it) and is audited.
 */
@Injectable()
export class ContainerArchives {
  constructor(
    private readonly bus: BusClient,
    private readonly containers: ContainersService,
    private readonly audit: AuditLog,
  ) {}

  async stat(principal: RequestPrincipal, ref: string, path: string): Promise<PathStat> {
    const { id, hostId } = await this.placed(principal, ref, 'read');
    return this.bus.request(agentContracts(hostId).archiveStat, { id, path });
  }

  /** Calls `onStat` once the path is known (headers can be sent), then writes the tar into `destination` and ends it. */
  async get(principal: RequestPrincipal, ref: string, path: string, destination: Writable, onStat: (stat: PathStat) => void): Promise<void> {
    const { id, hostId } = await this.placed(principal, ref, 'read');
    const streamId = newStreamId();
    let receiver: ByteReceiver | undefined;
    const end = new StreamEnd(this.bus.streams(), streamId, 'client', (type, payload) => {
      if (type === Frame.Error) receiver?.fail(wireError(payload));
      else receiver?.onFrame(type, payload);
    });
    try {
      onStat(await this.bus.request(agentContracts(hostId).archiveGet, { id, path, streamId }));
      end.expectPeer();
      // The client hung up: the agent stops sending (and frees a stopped container's lock).
      destination.once('close', () => receiver?.fail(new Error('the client left')));
      receiver = new ByteReceiver(end, destination, { idleTimeoutMs: IDLE_MS, maxBytes: CP_MAX_BYTES });
      await receiver.done.catch((error: Error) => {
        end.sendJson(Frame.Error, { code: 'CANCELLED', message: 'the copy stopped' });
        throw error;
      });
    } finally {
      end.close();
    }
  }

  /** Sends the tar `source` to be extracted into the directory `path`; resolves once the agent wrote all of it. */
  async put(principal: RequestPrincipal, ref: string, path: string, source: Readable, options: { noOverwriteDirNonDir: boolean; copyUIDGID: boolean }): Promise<void> {
    const { id, hostId } = await this.placed(principal, ref, 'exec');
    const streamId = newStreamId();
    let agentError: Error | undefined;
    let settle!: { resolve: () => void; reject: (error: Error) => void };
    const finished = new Promise<void>((resolve, reject) => (settle = { resolve, reject }));
    finished.catch(() => undefined); // awaited below; a failure before then must not count as unhandled
    const end = new StreamEnd(this.bus.streams(), streamId, 'client', (type, payload) => {
      if (type === Frame.Credit) credit.grant(creditOf(payload));
      else if (type === Frame.Exit) settle.resolve();
      else if (type === Frame.Error) {
        const error = wireError(payload);
        agentError = error;
        credit.release();
        settle.reject(error);
      }
    });
    const credit = new CreditedSender((type, payload) => end.send(type, payload));
    try {
      await this.bus.request(agentContracts(hostId).archivePut, { id, path, streamId, ...options });
      end.expectPeer();
      try {
        await sendBytes(credit, source);
      } catch (error) {
        // The agent's own error wins over the sender's (it stopped reading because of it).
        end.sendJson(Frame.Error, { code: 'CANCELLED', message: 'the sender failed' });
        source.resume();
        await Promise.race([finished, new Promise((resolve) => setTimeout(resolve, 1000).unref())]);
        throw agentError ?? error;
      }
      const timer = setTimeout(() => settle.reject(new UnavailableError(`the host of container ${ref} did not confirm the copy`)), IDLE_MS);
      await finished.finally(() => clearTimeout(timer));
      await this.audit.record(principal, 'container.copy-in', `container:${id}`, { path });
    } finally {
      end.close();
    }
  }

  private async placed(principal: RequestPrincipal, ref: string, action: 'read' | 'exec'): Promise<{ id: string; hostId: string }> {
    const record = await this.containers.get(principal, ref, action);
    if (!record.hostId) throw new UnavailableError(`container ${record.name} is not placed on any host`);
    return { id: record.id, hostId: record.hostId };
  }
}

function wireError(payload: Buffer): MuelleError {
  try {
    const wire = JSON.parse(payload.toString('utf8')) as unknown;
    if (isWireError(wire)) return fromWire(wire);
  } catch {
    // not JSON: reported as the generic failure below
  }
  return new InternalError('the copy failed on the host');
}
