import { repoRoot } from '@muelle/testing';
export { shapeDifferences } from '@muelle/testing';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * Muelle's Docker API against the answers of a real dockerd (recorded by
 * tools/docker-parity/record-engine.mjs into apps/api/src/docker/fixtures/engine): the same
 * requests in the same order, compared by status code, JSON keys and JSON types.
 */
const FIXTURES = join(repoRoot, 'apps/api/src/docker/fixtures/engine');

export interface ParityCase {
  name: string;
  method: string;
  path: string;
  body?: unknown;
  /** The reply's `Id` becomes this placeholder for the following cases. */
  capture?: string;
  /** Compare this response header (base64 JSON, as `X-Docker-Container-Path-Stat`) instead of the body. */
  header?: string;
  /** The body is newline-delimited JSON (`/events`): compared as a list. */
  stream?: boolean;
}

export interface Recorded {
  status: number;
  body: unknown;
}

const read = (file: string) => JSON.parse(readFileSync(join(FIXTURES, file), 'utf8'));
export const parityCases = (): ParityCase[] => read('cases.json').cases;
export const recorded = (name: string): Recorded => read(`${name}.json`);
/** Keys dockerd sends that Muelle does not, per case, each a JSON path (`$.Swarm.NodeID`): the documented gaps. */
export const knownGaps = (): Record<string, string[]> => read('gaps.json').gaps;

export const fillPlaceholders = (text: string, vars: Record<string, string>) => text.replace(/\{(\w+)\}/g, (all, key: string) => vars[key] ?? all);

/** The part of an answer a case compares, decoded as record-engine.mjs decodes dockerd's. */
export function comparedBody(c: ParityCase, status: number, headers: Headers, text: string): unknown {
  try {
    if (c.header && status < 300) return JSON.parse(Buffer.from(headers.get(c.header) ?? '', 'base64').toString('utf8'));
    if (c.stream) return text.split('\n').filter(Boolean).map((line) => JSON.parse(line));
    return text ? JSON.parse(text) : null;
  } catch {
    // Not JSON (an empty 204, plain text, a missing header): compared as the text, as recorded.
    return text;
  }
}
