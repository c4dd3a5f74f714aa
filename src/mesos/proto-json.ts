// Protobuf's JSON mapping, as the Mesos HTTP APIs parse it: "null is an accepted value for all
// field types and treated as the default value of the corresponding field type". Clients built on
// generated protobuf classes (e.g. the mesos-framework npm package) send every unset optional
// field as null, and Mesos takes those calls; so a null is a field left out (and a null in a list,
// an element left out).

/** A null in value position; "/dev/null" inside a command does not look like one. */
const NULL_VALUE = /[:[,]\s*null\s*[,\]}]/;

/** JSON.parse, with nulls left out as Mesos reads them (only looked for when one may be present). */
export function parseProtoJson(text: string): unknown {
  const value: unknown = JSON.parse(text);
  return NULL_VALUE.test(text) ? dropNulls(value) : value;
}

/**
 * Removes nulls in place from a freshly parsed value (a body parser's output): object fields that
 * are null are deleted, null list elements dropped. Deleting, not copying, keeps a "__proto__"
 * field an own property.
 */
export function dropNulls(value: unknown): unknown {
  if (Array.isArray(value)) {
    let n = 0;
    for (const v of value) if (v !== null) value[n++] = dropNulls(v);
    value.length = n;
  } else if (typeof value === 'object' && value !== null) {
    const o = value as Record<string, unknown>;
    for (const k of Object.keys(o)) {
      if (o[k] === null) delete o[k];
      else dropNulls(o[k]);
    }
  }
  return value;
}
