// The subset of Compute Engine's list `filter` syntax the fake understands: comparisons
// `field = value` / `field != value` (value bare or double-quoted, `\"` and `\\` escapes), joined
// by AND, OR or juxtaposition (implicit AND), with parentheses. As in GCE (AIP-160), OR binds
// tighter than AND. Anything else is a syntax error, which the fake answers with 400 — so an
// adapter sending a filter the fake does not understand fails loudly instead of matching all.

export type Predicate = (resource: Record<string, unknown>) => boolean;

type Token = { t: '(' | ')' | 'AND' | 'OR' | '=' | '!=' } | { t: 'word'; v: string } | { t: 'string'; v: string };

export class FilterSyntaxError extends Error {}

function tokenize(s: string): Token[] {
  const out: Token[] = [];
  let i = 0;
  while (i < s.length) {
    const c = s[i];
    if (/\s/.test(c)) { i++; continue; }
    if (c === '(' || c === ')') { out.push({ t: c }); i++; continue; }
    if (c === '=') { out.push({ t: '=' }); i++; continue; }
    if (c === '!' && s[i + 1] === '=') { out.push({ t: '!=' }); i += 2; continue; }
    if (c === '"') {
      let v = '';
      i++;
      for (;;) {
        if (i >= s.length) throw new FilterSyntaxError('unterminated string');
        if (s[i] === '\\' && i + 1 < s.length) { v += s[i + 1]; i += 2; continue; }
        if (s[i] === '"') { i++; break; }
        v += s[i++];
      }
      out.push({ t: 'string', v });
      continue;
    }
    const m = /^[A-Za-z0-9_.\-*:/]+/.exec(s.slice(i));
    if (!m) throw new FilterSyntaxError(`unexpected character '${c}' at ${i}`);
    const w = m[0];
    i += w.length;
    if (w === 'AND' || w === 'OR') out.push({ t: w });
    else out.push({ t: 'word', v: w });
  }
  return out;
}

function lookup(resource: Record<string, unknown>, path: string): unknown {
  let cur: unknown = resource;
  for (const part of path.split('.')) {
    if (typeof cur !== 'object' || cur === null) return undefined;
    cur = (cur as Record<string, unknown>)[part];
  }
  return cur;
}

export function parseFilter(filter: string): Predicate {
  const toks = tokenize(filter);
  let pos = 0;
  const peek = () => toks[pos];
  const next = () => toks[pos++];

  const term = (): Predicate => {
    const tok = next();
    if (!tok) throw new FilterSyntaxError('unexpected end of filter');
    if (tok.t === '(') {
      const inner = andExpr();
      if (next()?.t !== ')') throw new FilterSyntaxError('missing )');
      return inner;
    }
    if (tok.t !== 'word') throw new FilterSyntaxError(`expected a field name, got ${tok.t}`);
    const op = next();
    if (!op || (op.t !== '=' && op.t !== '!=')) throw new FilterSyntaxError(`expected = or != after ${tok.v}`);
    const val = next();
    if (!val || (val.t !== 'word' && val.t !== 'string')) throw new FilterSyntaxError(`expected a value after ${tok.v} ${op.t}`);
    const field = tok.v;
    const want = val.v;
    const eq = (r: Record<string, unknown>) => {
      const have = lookup(r, field);
      return have !== undefined && have !== null && String(have) === want;
    };
    return op.t === '=' ? eq : (r) => !eq(r);
  };
  const orExpr = (): Predicate => {
    const parts = [term()];
    while (peek()?.t === 'OR') { next(); parts.push(term()); }
    return parts.length === 1 ? parts[0] : (r) => parts.some((p) => p(r));
  };
  const andExpr = (): Predicate => {
    const parts = [orExpr()];
    for (;;) {
      const p = peek();
      if (!p || p.t === ')') break;
      if (p.t === 'AND') next();
      parts.push(orExpr());
    }
    return parts.length === 1 ? parts[0] : (r) => parts.every((q) => q(r));
  };

  if (toks.length === 0) return () => true;
  const pred = andExpr();
  if (pos !== toks.length) throw new FilterSyntaxError(`unexpected ${toks[pos].t} at token ${pos}`);
  return pred;
}
