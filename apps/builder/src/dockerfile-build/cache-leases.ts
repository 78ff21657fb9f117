/**
 * What running builds use of the step cache: the keys they looked up or wrote and the layer
 * digests they hold. A prune skips those (Docker reports them InUse), so it never deletes a
 * record or blob under a running build.
 */
export class CacheLeases {
  private readonly active = new Set<CacheLease>();

  open(): CacheLease {
    const lease = new CacheLease(() => this.active.delete(lease));
    this.active.add(lease);
    return lease;
  }

  holdsKey(key: string): boolean {
    for (const lease of this.active) if (lease.keys.has(key)) return true;
    return false;
  }

  holdsDigest(digest: string): boolean {
    for (const lease of this.active) if (lease.digests.has(digest)) return true;
    return false;
  }
}

export class CacheLease {
  readonly keys = new Set<string>();
  readonly digests = new Set<string>();

  constructor(private readonly onRelease: () => void) {}

  holdKey(key: string): void {
    this.keys.add(key);
  }

  holdDigest(digest: string): void {
    this.digests.add(digest);
  }

  release(): void {
    this.onRelease();
  }
}
