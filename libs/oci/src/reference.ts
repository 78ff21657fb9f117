import { isIPv6 } from 'node:net';
import { InvalidDigestError, InvalidReferenceError } from './errors';
import { MAX_REPOSITORY_NAME_LENGTH, REPOSITORY_NAME_PATTERN, TAG_PATTERN, parseDigest } from './grammar';

/**
 * Image references as the docker CLI reads them
 * (`[domain/]path[:tag][@digest]`), except that a reference without a domain
 * goes to `defaultRegistry` instead of docker.io, and no `library/` prefix is
 * ever added.
 */
export interface ImageReference {
  /** `host[:port]`, e.g. `127.0.0.1:5000` or the default registry. */
  registry: string;
  /** Repository path inside the registry, e.g. `team/app`. */
  repository: string;
  /** Present when given, and `latest` when neither tag nor digest was given. */
  tag?: string;
  /** `sha256:…` / `sha512:…` when pinned. */
  digest?: string;
}

export const DEFAULT_TAG = 'latest';

const DOMAIN_COMPONENT = '[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?';
/** host (domain name, IPv4 or bracketed IPv6) with an optional port. */
export const REGISTRY_HOST_PATTERN = new RegExp(`^(?:${DOMAIN_COMPONENT}(?:\\.${DOMAIN_COMPONENT})*|\\[[a-fA-F0-9:]+\\])(?::[0-9]+)?$`);

export function isValidRegistryHost(host: string): boolean {
  return typeof host === 'string' && host.length > 0 && host.length <= MAX_REPOSITORY_NAME_LENGTH && REGISTRY_HOST_PATTERN.test(host) && registryHostProblem(host) === undefined;
}

/**
 * What the pattern cannot say about a `host[:port]` that matches it: the port must be 1–65535 and a
 * bracketed IPv6 address must be one (URL parsers downstream refuse anything else).
 */
function registryHostProblem(host: string): string | undefined {
  const bracketEnd = host.startsWith('[') ? host.indexOf(']') : -1;
  if (bracketEnd !== -1 && !isIPv6(host.slice(1, bracketEnd))) return `${JSON.stringify(host.slice(0, bracketEnd + 1))} is not an IPv6 address`;
  const colon = host.indexOf(':', bracketEnd + 1);
  if (colon === -1) return undefined;
  const port = host.slice(colon + 1);
  if (port.length > 5 || Number(port) < 1 || Number(port) > 65535) return `port ${port} is outside 1-65535`;
  return undefined;
}

/** docker's rule: the first path component is a registry if it contains `.` or `:`, is `localhost`, or has uppercase letters. */
function looksLikeRegistry(firstComponent: string): boolean {
  return /[.:]/.test(firstComponent) || firstComponent === 'localhost' || firstComponent.toLowerCase() !== firstComponent;
}

export function parseReference(input: string, defaultRegistry: string): ImageReference {
  if (typeof input !== 'string' || input.length === 0) throw new InvalidReferenceError(String(input), 'empty reference');
  if (!isValidRegistryHost(defaultRegistry)) {
    throw new InvalidReferenceError(input, `default registry ${JSON.stringify(defaultRegistry)} is not a valid host[:port]`);
  }

  let rest = input;
  let digest: string | undefined;
  const at = rest.indexOf('@');
  if (at !== -1) {
    digest = rest.slice(at + 1);
    rest = rest.slice(0, at);
    try {
      parseDigest(digest);
    } catch (error) {
      if (error instanceof InvalidDigestError) throw new InvalidReferenceError(input, error.message);
      throw error;
    }
  }

  let tag: string | undefined;
  const colon = rest.lastIndexOf(':');
  if (colon > rest.lastIndexOf('/')) {
    tag = rest.slice(colon + 1);
    rest = rest.slice(0, colon);
    if (!TAG_PATTERN.test(tag)) throw new InvalidReferenceError(input, `invalid tag ${JSON.stringify(tag)}`);
  }

  const name = rest;
  if (name.length === 0) throw new InvalidReferenceError(input, 'missing repository name');
  if (name.length > MAX_REPOSITORY_NAME_LENGTH) {
    throw new InvalidReferenceError(input, `repository name longer than ${MAX_REPOSITORY_NAME_LENGTH} characters`);
  }

  let registry = defaultRegistry;
  let repository = name;
  const slash = name.indexOf('/');
  if (slash !== -1 && looksLikeRegistry(name.slice(0, slash))) {
    registry = name.slice(0, slash);
    repository = name.slice(slash + 1);
    if (!REGISTRY_HOST_PATTERN.test(registry)) throw new InvalidReferenceError(input, `invalid registry host ${JSON.stringify(registry)}`);
    const problem = registryHostProblem(registry);
    if (problem) throw new InvalidReferenceError(input, `invalid registry host ${JSON.stringify(registry)}: ${problem}`);
  }
  if (!REPOSITORY_NAME_PATTERN.test(repository)) {
    const lowercaseWouldPass = REPOSITORY_NAME_PATTERN.test(repository.toLowerCase());
    throw new InvalidReferenceError(input, lowercaseWouldPass ? 'repository name must be lowercase' : `invalid repository name ${JSON.stringify(repository)}`);
  }
  if (`${registry}/${repository}`.length > MAX_REPOSITORY_NAME_LENGTH) {
    throw new InvalidReferenceError(input, `registry plus repository longer than ${MAX_REPOSITORY_NAME_LENGTH} characters`);
  }

  const reference: ImageReference = { registry, repository };
  if (tag !== undefined) reference.tag = tag;
  else if (digest === undefined) reference.tag = DEFAULT_TAG;
  if (digest !== undefined) reference.digest = digest;
  return reference;
}

export interface FormatReferenceOptions {
  /**
   * Leave out the registry when it equals this one and the result still parses
   * back to the same registry (a first path component like `foo.bar` would
   * otherwise be read as a host).
   */
  defaultRegistry?: string;
}

/** Canonical text form `registry/repository[:tag][@digest]`; `parseReference` reads it back to an equal value. */
export function formatReference(reference: ImageReference, options: FormatReferenceOptions = {}): string {
  const firstComponent = reference.repository.split('/')[0];
  const omitRegistry =
    options.defaultRegistry !== undefined && options.defaultRegistry === reference.registry && !(reference.repository.includes('/') && looksLikeRegistry(firstComponent));
  let text = omitRegistry ? reference.repository : `${reference.registry}/${reference.repository}`;
  if (reference.tag !== undefined) text += `:${reference.tag}`;
  if (reference.digest !== undefined) text += `@${reference.digest}`;
  return text;
}
