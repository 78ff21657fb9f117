/** Compares JSON documents by shape (keys and types), for API parity checks against recorded answers. */
const kind = (value: unknown) => (value === null ? 'null' : Array.isArray(value) ? 'array' : typeof value);

/**
 * Where `actual` does not have the shape of `expected`: a key of expected missing from actual, or a
 * value of another JSON type. `null` on either side matches anything (Go's nil slices and maps);
 * arrays compare their first elements; keys only Muelle sends are not differences.
 */
export function shapeDifferences(expected: unknown, actual: unknown, path = '$'): string[] {
  if (expected === null || actual === null) return [];
  if (kind(expected) !== kind(actual)) return [`${path}: dockerd sends ${kind(expected)}, Muelle ${kind(actual)}`];
  if (Array.isArray(expected)) return expected.length && (actual as unknown[]).length ? shapeDifferences(expected[0], (actual as unknown[])[0], `${path}[0]`) : [];
  if (kind(expected) !== 'object') return [];
  const out: string[] = [];
  for (const [key, value] of Object.entries(expected as Record<string, unknown>)) {
    const child = `${path}.${key}`;
    if (!(key in (actual as Record<string, unknown>))) out.push(`${child}: missing`);
    else out.push(...shapeDifferences(value, (actual as Record<string, unknown>)[key], child));
  }
  return out;
}

