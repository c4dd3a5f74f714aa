// XML the SDK's EC2 protocol parser reads: responses in the 2016-11-15 namespace, lists as
// <fooSet><item>…</item></fooSet>, errors as <Response><Errors><Error><Code>….

export const EC2_NS = 'http://ec2.amazonaws.com/doc/2016-11-15/';

export type XmlChild = string | number | boolean | undefined | null | XmlNode;
export interface XmlNode {
  readonly name: string;
  readonly children: readonly XmlChild[];
}

export const escapeXml = (s: string): string =>
  s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&apos;');

export const el = (name: string, ...children: XmlChild[]): XmlNode => ({ name, children });

/** Renders `<name>…</name>`; undefined/null children are skipped (absent optional fields). */
export function render(n: XmlNode): string {
  const inner = n.children
    .filter((c) => c !== undefined && c !== null)
    .map((c) => (typeof c === 'object' ? render(c as XmlNode) : escapeXml(String(c))))
    .join('');
  return inner === '' ? `<${n.name}/>` : `<${n.name}>${inner}</${n.name}>`;
}

/** Optional scalar field: <name>value</name> or nothing. */
export const opt = (name: string, v: string | number | boolean | undefined): XmlNode | undefined => (v === undefined ? undefined : el(name, v));

/** <name><item>…</item>…</name>. */
export const set = (name: string, items: readonly XmlChild[][]): XmlNode => el(name, ...items.map((children) => el('item', ...children)));

export function response(action: string, requestId: string, ...children: XmlChild[]): string {
  return `<?xml version="1.0" encoding="UTF-8"?>\n<${action}Response xmlns="${EC2_NS}">${render(el('requestId', requestId))}${children
    .filter((c) => c !== undefined && c !== null)
    .map((c) => (typeof c === 'object' ? render(c as XmlNode) : escapeXml(String(c))))
    .join('')}</${action}Response>`;
}

export function errorResponse(code: string, message: string, requestId: string): string {
  return `<?xml version="1.0" encoding="UTF-8"?>\n${render(el('Response', el('Errors', el('Error', el('Code', code), el('Message', message))), el('RequestID', requestId)))}`;
}
