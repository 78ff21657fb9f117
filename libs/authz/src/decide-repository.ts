import { decide } from './decide';
import type { Action, Decision, Subject } from './model';

/** A repository's settings that widen who may see it; null when the repository does not exist. */
export type RepositorySettingsLookup = (name: string) => Promise<{ shared: boolean; anonymousPull: boolean } | null>;

/**
 * `decide()` for a repository known by name only. The settings (`shared`, `anonymousPull`) can
 * only make a hidden repository visible, so they are looked up only when the decision without
 * them is `not-found`: owners, admins and `library/…` cost no round trip.
 */
export async function decideRepository(subject: Subject | null, action: Action, name: string, lookup: RepositorySettingsLookup): Promise<Decision> {
  const bare = decide(subject, action, { kind: 'repository', name });
  if (bare.allowed || bare.outcome === 'forbidden') return bare;
  const settings = await lookup(name);
  return settings ? decide(subject, action, { kind: 'repository', name, ...settings }) : bare;
}
