// Protobuf's JSON mapping, as the Mesos HTTP APIs parse it: "null is an accepted value for all
// field types and treated as the default value of the corresponding field type". Clients built on
// generated protobuf classes (e.g. the mesos-framework npm package) send every unset optional
// field as null, and Mesos takes those calls; so a null is a field left out.

const dropNull = (_key: string, value: unknown): unknown => (value === null ? undefined : value);

/** JSON.parse, with nulls left out as Mesos reads them (the reviver only runs when one may be present). */
export function parseProtoJson(text: string): unknown {
  return text.includes('null') ? JSON.parse(text, dropNull) : JSON.parse(text);
}

/** A value already parsed (by a body parser), with its nulls left out the same way. */
export function withoutNulls(value: unknown): unknown {
  if (Array.isArray(value)) return value.filter((v) => v !== null).map(withoutNulls);
  if (typeof value !== 'object' || value === null) return value;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) if (v !== null) out[k] = withoutNulls(v);
  return out;
}
