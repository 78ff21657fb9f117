import { NotFoundError } from '@muelle/contracts';
import type { Platform } from '@muelle/oci';

export type { Platform } from '@muelle/oci';

/** Node's `process.arch` → the OCI architecture name (GOARCH spelling). */
const ARCH_OF_NODE: Record<string, string> = { x64: 'amd64', ia32: '386', arm64: 'arm64', arm: 'arm', ppc64: 'ppc64le', s390x: 's390x', riscv64: 'riscv64', loong64: 'loong64', mips: 'mips', mipsel: 'mipsle' };
/** Other spellings seen in the wild (uname, old manifests), as containerd's `platforms.Normalize` reads them. */
const ARCH_ALIASES: Record<string, string> = { x86_64: 'amd64', 'x86-64': 'amd64', aarch64: 'arm64', i386: '386', i686: '386', armhf: 'arm', armel: 'arm' };
/** Variants a CPU of this variant also runs, best first (containerd's platform matcher). */
const COMPATIBLE_VARIANTS: Record<string, Record<string, string[]>> = {
  arm: { v8: ['v8', 'v7', 'v6', 'v5'], v7: ['v7', 'v6', 'v5'], v6: ['v6', 'v5'], v5: ['v5'] },
  arm64: { v8: ['v8', ''], '': ['', 'v8'] },
  amd64: { v4: ['v4', 'v3', 'v2', 'v1', ''], v3: ['v3', 'v2', 'v1', ''], v2: ['v2', 'v1', ''], v1: ['v1', ''], '': ['', 'v1'] },
};
const PLATFORM_PART = /^[a-z0-9_.-]+$/i;

/** Lower case, canonical architecture names, arm's implied variant (`arm` is `arm/v7`, `arm64/v8` is `arm64`). */
export function normalizePlatform(platform: Platform): Platform {
  const os = platform.os.toLowerCase();
  const raw = platform.architecture.toLowerCase();
  const architecture = ARCH_ALIASES[raw] ?? raw;
  let variant = platform.variant?.toLowerCase() || undefined;
  if (architecture === 'arm' && !variant) variant = 'v7';
  if (architecture === 'arm64' && variant === 'v8') variant = undefined;
  if (architecture === 'amd64' && variant === 'v1') variant = undefined;
  return { ...platform, os, architecture, ...(variant ? { variant } : { variant: undefined }) };
}

/** The platform of the machine this process runs on: what `docker run` picks from an index. */
export function hostPlatform(): Platform {
  const architecture = ARCH_OF_NODE[process.arch] ?? process.arch;
  const armVersion = (process.config.variables as { arm_version?: string }).arm_version;
  const variant = architecture === 'arm' && armVersion ? `v${armVersion}` : undefined;
  return normalizePlatform({ os: process.platform === 'linux' ? 'linux' : process.platform, architecture, variant });
}

/**
 * Parses `os[/arch[/variant]]` (`--platform`), lower-cased as written (matching normalises); an
 * omitted architecture is the host's. `null` when malformed.
 */
export function parsePlatform(text: string): Platform | null {
  const parts = text.split('/');
  if (parts.length > 3 || parts.some((part) => !PLATFORM_PART.test(part))) return null;
  const [os, architecture = hostPlatform().architecture, variant] = parts.map((part) => part.toLowerCase()) as [string, string?, string?];
  return { os, architecture, ...(variant ? { variant } : {}) };
}

export function formatPlatform(platform: Platform): string {
  return [platform.os, platform.architecture, platform.variant].filter((part) => part).join('/');
}

/** How well `candidate` serves `wanted`: 0 is best, `undefined` when it cannot run there. */
function matchRank(wanted: Platform, candidate: Platform): number | undefined {
  const want = normalizePlatform(wanted);
  const have = normalizePlatform(candidate);
  if (want.os !== have.os || want.architecture !== have.architecture) return undefined;
  const ladder = COMPATIBLE_VARIANTS[want.architecture]?.[want.variant ?? ''] ?? [want.variant ?? ''];
  const rank = ladder.indexOf(have.variant ?? '');
  return rank === -1 ? undefined : rank;
}

/**
 * The entry of an image index to use on `wanted` (the host's platform unless the user asked for
 * another): the exact platform first, then compatible older variants (arm/v7 runs v6), then an
 * entry without a platform (containerd takes those as matching). `undefined` when none fits.
 */
export function selectManifest<T extends { platform?: Platform }>(manifests: readonly T[], wanted: Platform = hostPlatform()): T | undefined {
  let best: { entry: T; rank: number } | undefined;
  for (const entry of manifests) {
    const rank = entry.platform ? matchRank(wanted, entry.platform) : 1000;
    if (rank !== undefined && (!best || rank < best.rank)) best = { entry, rank };
  }
  return best?.entry;
}

/** `selectManifest`, or Docker's error naming the platform when the index has nothing for it. */
export function requireManifest<T extends { platform?: Platform }>(manifests: readonly T[], image: string, wanted: Platform = hostPlatform()): T {
  const match = selectManifest(manifests, wanted);
  if (!match) throw new NotFoundError(`no matching manifest for ${formatPlatform(normalizePlatform(wanted))} in the manifest list entries of ${image}`);
  return match;
}

/** Whether a `--platform` value names this host's platform (the only one Muelle runs). */
export function isHostPlatform(text: string): boolean {
  const wanted = parsePlatform(text);
  return wanted !== null && selectManifest([{ platform: wanted }]) !== undefined;
}
