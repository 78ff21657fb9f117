/** A parsed `WWW-Authenticate` header. */
export interface Challenge {
  scheme: 'bearer' | 'basic';
  params: Record<string, string>;
}

/** `Bearer realm="https://x/token",service="reg",scope="repository:a:pull"` → its parts. */
export function parseChallenge(header: string | undefined): Challenge | null {
  if (!header) return null;
  const match = /^\s*(\w+)\s*(.*)$/s.exec(header);
  if (!match) return null;
  const scheme = match[1].toLowerCase();
  if (scheme !== 'bearer' && scheme !== 'basic') return null;
  const params: Record<string, string> = {};
  const pattern = /(\w+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s,]+))/g;
  for (let m = pattern.exec(match[2]); m; m = pattern.exec(match[2])) params[m[1].toLowerCase()] = (m[2] ?? m[3]).replace(/\\(.)/g, '$1');
  return { scheme, params };
}

export const repositoryScope = (repository: string, actions: string) => `repository:${repository}:${actions}`;

/**
 * Where a token realm may be: credentials go only to the registry's own host:port, never to a
 * realm elsewhere (a registry could name any server as its realm and collect the password), and
 * never over plain http when the registry itself is https. Anonymous token requests carry nothing
 * secret, so they may follow a realm on another host (Docker Hub's auth.docker.io), still not a
 * downgrade to http.
 */
export function tokenRealmRefusal(realm: URL, registry: URL, withCredentials: boolean): string | null {
  if (realm.protocol !== 'https:' && realm.protocol !== 'http:') return `token realm ${realm.href} is not http(s)`;
  if (registry.protocol === 'https:' && realm.protocol !== 'https:') return `token realm ${realm.href} is plain http while the registry ${registry.host} is https`;
  if (withCredentials && realm.host !== registry.host)
    return `token realm ${realm.origin} is not on the registry's host ${registry.host}: credentials are not sent there`;
  return null;
}
