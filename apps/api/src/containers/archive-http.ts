import type { Request, Response } from 'express';
import type { PathStat } from '@muelle/contracts';
import type { RequestPrincipal } from '../auth/principal';
import { requireTarContext } from '../http/tar-context';
import { ContainerArchives } from './container-archives';

/** Docker's header for what a `docker cp` path names: base64 of the JSON stat. */
export const PATH_STAT_HEADER = 'X-Docker-Container-Path-Stat';

export const encodePathStat = (stat: PathStat) => Buffer.from(JSON.stringify(stat)).toString('base64');

/**
 * Answers with the tar of `path` (Docker's `GET /containers/{id}/archive`, and /v1's). An error
 * before the first byte is an ordinary error reply; after it, the connection is cut, which tar
 * readers report as a truncated archive.
 */
export async function sendArchive(archives: ContainerArchives, principal: RequestPrincipal, ref: string, path: string, res: Response): Promise<void> {
  try {
    await archives.get(principal, ref, path, res, (stat) => {
      res.status(200).setHeader('Content-Type', 'application/x-tar');
      res.setHeader(PATH_STAT_HEADER, encodePathStat(stat));
      res.flushHeaders();
    });
  } catch (error) {
    if (!res.headersSent) throw error;
    res.destroy();
  }
}

/** Extracts the request's tar body into the directory `path` (Docker's `PUT /containers/{id}/archive`, and /v1's). */
export async function receiveArchive(
  archives: ContainerArchives,
  principal: RequestPrincipal,
  ref: string,
  query: { path: string; noOverwriteDirNonDir: boolean; copyUIDGID: boolean },
  req: Request,
): Promise<void> {
  const body = await requireTarContext(req, 'the body of a copy', false);
  await archives.put(principal, ref, query.path, body, { noOverwriteDirNonDir: query.noOverwriteDirNonDir, copyUIDGID: query.copyUIDGID });
}
