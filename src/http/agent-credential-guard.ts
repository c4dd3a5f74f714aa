// Agent credentials and join tokens act only on the agent protocol (and the bootstrap downloads):
// presented anywhere else — the scheduler API, the operator API, /v1 — the request is refused, so a
// credential taken from an agent's disk can never pass for a framework or an operator. Checked in
// the server's dispatch, before Koa and before the call endpoints, so no path is forgotten.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from '../common/logger.ts';
import { parseAuthorization } from '../auth/bearer.ts';

const AGENT_PATHS = /^\/(api\/v1\/agent|v1\/agent\/bundle(\.sha256)?)$/;

/** Answers 403 and returns true when `req` carries an agent secret off the agent API. */
export function refuseAgentSecretsOffAgentApi(req: IncomingMessage, res: ServerResponse, log: Logger): boolean {
  const header = req.headers.authorization;
  if (!header) return false;
  const bearer = parseAuthorization(header);
  const path = (req.url ?? '/').split('?')[0]!;
  if (!bearer || bearer.kind === 'other' || AGENT_PATHS.test(path)) return false;
  const what = bearer.kind === 'credential' ? `the credential of agent ${bearer.agentId}` : `join token ${bearer.tokenId}`;
  log.warn({ path, method: req.method, peer: req.socket.remoteAddress, kind: bearer.kind }, `refused: ${what} used outside the agent API`);
  const body = `${what} is valid only on /api/v1/agent, not on ${path}`;
  res.writeHead(403, { 'Content-Type': 'text/plain; charset=utf-8', 'Content-Length': Buffer.byteLength(body) });
  res.end(body);
  if (!req.complete) req.resume();
  return true;
}
