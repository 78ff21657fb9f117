import { PassThrough } from 'node:stream';
import { ByteReceiver, CreditedSender, creditOf, Frame, sendBytes, StreamEnd, type StreamTransport } from '@muelle/bus';
import { ConflictError, CP_MAX_BYTES, toMuelleError } from '@muelle/contracts';
import { ContainerRuntime } from '../container-runtime';
import { resolveSource, tarOf, type PathStat } from './archive-read';
import { extractInto, resolveDestination } from './archive-write';
import { nameFullDisk } from '../../host/disk-full';
import { changedError, ContainerRoot } from './in-root';

/** A reader that grants no credit for this long is gone: the copy stops (and a stopped container's lock is freed). */
const IDLE_MS = 120_000;

/**
 * `docker cp` on this host: stat, a tar of a path (to the caller, within the credit it grants) and
 * a tar extracted into a directory (credit granted as the disk takes it). Paths are resolved inside
 * the container's root by `ContainerRoot`, on the running container's own mount tree (volumes
 * included) or on its overlay mounted for the copy when it is stopped.
 */
export class ContainerArchives {
  constructor(
    private readonly hostId: string,
    private readonly runtime: ContainerRuntime,
    private readonly streams: () => StreamTransport,
  ) {}

  stat(id: string, path: string): Promise<PathStat> {
    return this.onFiles(id, path, async (rootPath) => {
      const root = await ContainerRoot.open(rootPath);
      try {
        const { resolved, stat } = await resolveSource(root, path);
        await resolved.release();
        return stat;
      } finally {
        await root.close();
      }
    });
  }

  /** Replies with the path's stat once resolved; the tar follows on the stream as the caller grants credit. */
  get(id: string, path: string, streamId: string): Promise<PathStat> {
    return new Promise<PathStat>((reply, refuse) => {
      // A reader that grants nothing for IDLE_MS is taken as gone: the copy ends instead of waiting forever.
      let idle = setTimeout(() => credit.release(), IDLE_MS);
      const end = new StreamEnd(this.streams(), streamId, 'server', (type, payload) => {
        if (type === Frame.Credit) {
          clearTimeout(idle);
          idle = setTimeout(() => credit.release(), IDLE_MS);
          credit.grant(creditOf(payload));
        } else if (type === Frame.Error) credit.release();
      });
      const credit = new CreditedSender((type, payload) => end.send(type, payload));
      let replied = false;
      this.onFiles(id, path, async (rootPath) => {
          const root = await ContainerRoot.open(rootPath);
          try {
            const { resolved, stat, entryName } = await resolveSource(root, path);
            try {
              // Before the answer: the caller's credit must find this end (StreamEnd.subscribed).
              await end.subscribed();
              replied = true;
              reply(stat);
              await sendBytes(credit, tarOf(root, resolved, entryName));
            } finally {
              await resolved.release();
            }
          } finally {
            await root.close();
          }
        })
        .catch((error: unknown) => {
          if (!replied) return refuse(error);
          end.sendJson(Frame.Error, toMuelleError(error).toWire());
        })
        .finally(() => {
          clearTimeout(idle);
          end.close();
        });
    });
  }

  /**
   * Replies once `path` is known to be a directory the copy may write to; then extracts what the
   * caller sends (at most CP_MAX_BYTES) and ends the stream with `Exit {exitCode: 0}` or `Error`.
   */
  put(r: { id: string; path: string; streamId: string; noOverwriteDirNonDir: boolean; copyUIDGID: boolean }): Promise<Record<string, never>> {
    const record = this.runtime.get(r.id);
    if (record.spec.security.readOnly && !this.runtime.isRunning(r.id)) {
      // A running one answers EROFS per path (its volumes stay writable); a stopped one's overlay would be mounted writable.
      throw new ConflictError(`container ${record.name} has a read-only root file system: start it to copy into its volumes`);
    }
    return new Promise((reply, refuse) => {
      let receiver: ByteReceiver | undefined;
      const end = new StreamEnd(this.streams(), r.streamId, 'server', (type, payload) => receiver?.onFrame(type, payload));
      let replied = false;
      this.onFiles(r.id, r.path, async (rootPath) => {
          const root = await ContainerRoot.open(rootPath);
          try {
            const destination = await resolveDestination(root, r.path);
            // `docker cp -a`: the container's user, as resolved at create.
            const owner = r.copyUIDGID ? { uid: record.user.uid, gid: record.user.gid } : undefined;
            const pipe = new PassThrough();
            receiver = new ByteReceiver(end, pipe, { idleTimeoutMs: IDLE_MS, maxBytes: CP_MAX_BYTES });
            await end.subscribed(); // before the answer (see get)
            replied = true;
            reply({});
            const extracting = extractInto(root, destination, pipe, { noOverwriteDirNonDir: r.noOverwriteDirNonDir, owner });
            // Either side failing ends the copy: a receiver error (too large, sender gone) stops the extraction.
            await Promise.all([receiver.done.catch((error: Error) => (pipe.destroy(error), Promise.reject(error))), extracting.catch((error: Error) => (receiver?.fail(error), Promise.reject(error)))]);
            end.sendJson(Frame.Exit, { exitCode: 0 });
          } finally {
            await root.close();
          }
        })
        .catch((error: unknown) => {
          if (!replied) return refuse(error);
          end.sendJson(Frame.Error, toMuelleError(error).toWire());
        })
        .finally(() => end.close());
    });
  }

  /** Runs `work` on the container's files; file-system failures are named with the path and the host. */
  private async onFiles<T>(id: string, path: string, work: (rootPath: string) => Promise<T>): Promise<T> {
    try {
      return await this.runtime.filesystem(id, work);
    } catch (error) {
      throw nameFullDisk(this.hostId, changedError(error as NodeJS.ErrnoException, path));
    }
  }
}
