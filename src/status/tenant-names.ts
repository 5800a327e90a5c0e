// How tenant names appear to viewers of the admin port: as they are, or hashed so that a shared dashboard does
// not reveal who the customers are. The hash is stable (the same on every replica and restart), so an operator
// who knows a tenant's name can find it: `printf %s NAME | sha256sum | cut -c1-12`.
import { createHash } from 'node:crypto';

export type TenantNameMode = 'plain' | 'hashed';

/** `t-` and the first 12 hex digits of the name's SHA-256 (48 bits: collisions are negligible below millions). */
export function hashTenantName(fairnessId: string): string {
  return `t-${createHash('sha256').update(fairnessId).digest('hex').slice(0, 12)}`;
}

/** Hashing costs ~1 us; the few names shown per snapshot repeat, so recent ones are remembered (bounded). */
export function tenantNamer(mode: TenantNameMode, maxRemembered = 10_000): (fairnessId: string) => string {
  if (mode === 'plain') return (id) => id;
  const remembered = new Map<string, string>();
  return (id) => {
    let hashed = remembered.get(id);
    if (hashed === undefined) {
      if (remembered.size >= maxRemembered) remembered.clear();
      hashed = hashTenantName(id);
      remembered.set(id, hashed);
    }
    return hashed;
  };
}
