// EC2 Query API request bodies: `Action=RunInstances&Version=2016-11-15&TagSpecification.1.Tag.1.Key=…`.
// parseQuery gives the flat pairs; unflatten turns dotted keys into a tree where numbered segments
// (1-based) become arrays: TagSpecification[0].Tag[0].Key.

export type QueryParams = Readonly<Partial<Record<string, string>>>;
export type QueryValue = string | QueryTree | QueryValue[];
export interface QueryTree {
  [key: string]: QueryValue;
}

export function parseQuery(body: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of new URLSearchParams(body)) out[k] = v;
  return out;
}

export function unflatten(params: QueryParams): QueryTree {
  const root: QueryTree = {};
  for (const [key, value] of Object.entries(params)) {
    if (value === undefined) continue;
    const parts = key.split('.');
    let node: QueryTree = root;
    parts.forEach((part, i) => {
      if (i === parts.length - 1) {
        node[part] = value;
        return;
      }
      const next = node[part];
      if (next === undefined || typeof next === 'string') node[part] = {};
      node = node[part] as QueryTree;
    });
  }
  return arrayify(root) as QueryTree;
}

function arrayify(v: QueryValue): QueryValue {
  if (typeof v === 'string' || Array.isArray(v)) return v;
  const keys = Object.keys(v);
  if (keys.length > 0 && keys.every((k) => /^[1-9]\d*$/.test(k))) {
    return keys.map(Number).sort((a, b) => a - b).map((k) => arrayify(v[String(k)]));
  }
  const out: QueryTree = {};
  for (const k of keys) out[k] = arrayify(v[k]);
  return out;
}

/** Accessors that tolerate absent and oddly shaped values (the fake must not crash on bad input). */
export const q = {
  str(t: QueryValue | undefined, key: string): string | undefined {
    const v = t && typeof t === 'object' && !Array.isArray(t) ? t[key] : undefined;
    return typeof v === 'string' ? v : undefined;
  },
  obj(t: QueryValue | undefined, key: string): QueryTree | undefined {
    const v = t && typeof t === 'object' && !Array.isArray(t) ? t[key] : undefined;
    return v && typeof v === 'object' && !Array.isArray(v) ? v : undefined;
  },
  list(t: QueryValue | undefined, key: string): QueryTree[] {
    const v = t && typeof t === 'object' && !Array.isArray(t) ? t[key] : undefined;
    return Array.isArray(v) ? v.filter((x): x is QueryTree => typeof x === 'object' && !Array.isArray(x)) : [];
  },
  strs(t: QueryValue | undefined, key: string): string[] {
    const v = t && typeof t === 'object' && !Array.isArray(t) ? t[key] : undefined;
    return Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : [];
  },
};
