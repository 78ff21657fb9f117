/** Predefined build arguments (BuildKit's "automatic platform ARGs" and proxy ARGs). */

import { formatPlatform, hostPlatform, parsePlatform, type Platform } from '@muelle/images';

export { formatPlatform, parsePlatform, type Platform };

/** What a build targets and runs on unless told otherwise: this host's platform (`@muelle/images`). */
export const DEFAULT_PLATFORM: Platform = hostPlatform();

/** TARGETPLATFORM, TARGETOS, ..., BUILDVARIANT: available to FROM always, inside a stage once declared with ARG. */
export function platformArgs(target: Platform = DEFAULT_PLATFORM, build: Platform = DEFAULT_PLATFORM): Record<string, string> {
  return {
    TARGETPLATFORM: formatPlatform(target),
    TARGETOS: target.os,
    TARGETARCH: target.architecture,
    TARGETVARIANT: target.variant ?? '',
    BUILDPLATFORM: formatPlatform(build),
    BUILDOS: build.os,
    BUILDARCH: build.architecture,
    BUILDVARIANT: build.variant ?? '',
  };
}

/** Proxy build args reach RUN without an ARG declaration and stay out of history and cache keys. */
export const PROXY_ARG_NAMES: readonly string[] = [
  'HTTP_PROXY', 'http_proxy', 'HTTPS_PROXY', 'https_proxy', 'FTP_PROXY', 'ftp_proxy',
  'NO_PROXY', 'no_proxy', 'ALL_PROXY', 'all_proxy',
];

export function isProxyArg(name: string): boolean {
  return ['http_proxy', 'https_proxy', 'ftp_proxy', 'no_proxy', 'all_proxy'].includes(name.toLowerCase());
}

/** Build args the builder itself understands; never reported as unused. */
export function isBuiltinBuildArg(name: string): boolean {
  return isProxyArg(name) || name in platformArgs() || name === 'SOURCE_DATE_EPOCH' || name.startsWith('BUILDKIT_');
}
