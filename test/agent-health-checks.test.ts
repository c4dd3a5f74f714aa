// Mesos-native health checks run by the agent (TaskInfo.health_check): COMMAND in the task's
// sandbox, HTTP and TCP on 127.0.0.1. Health changes are TASK_RUNNING updates with `healthy` and
// REASON_TASK_HEALTH_CHECK_STATUS_UPDATED; consecutive failures outside the grace period have the
// task killed (TASK_KILLED, healthy false); failures inside the grace are ignored.
import test from 'ava';
import http from 'node:http';
import net, { type AddressInfo } from 'node:net';
import type { FakeMaster } from './helpers/agent-fake-master.ts';
import { agentWithFakeMaster, commandTask, eventually, FW, groupExists, readCheckpoint } from './helpers/agent-test-utils.ts';

const setup = agentWithFakeMaster;

const withCheck = (id: string, command: string, healthCheck: object): object => ({ ...commandTask(id, command), health_check: healthCheck });
const fast = { delay_seconds: 0, interval_seconds: 0.1, timeout_seconds: 2, grace_period_seconds: 0 };
const healthUpdates = (m: FakeMaster, id: string) => m.updatesFor(id).filter((u) => u.status.reason === 'REASON_TASK_HEALTH_CHECK_STATUS_UPDATED');

test('COMMAND: the check runs in the sandbox with the task\'s environment; the first pass is a healthy TASK_RUNNING', async (t) => {
  const { master } = await setup(t);
  master.launch(FW, withCheck('web', 'sleep 0.4; echo $MESOS_TASK_ID > ready; sleep 60', { ...fast, grace_period_seconds: 10, type: 'COMMAND', command: { value: 'grep -qx "$MESOS_TASK_ID" ready' } }));
  const healthy = await eventually(() => healthUpdates(master, 'web').find((u) => u.status.healthy === true), 'healthy');
  t.deepEqual(healthUpdates(master, 'web').map((u) => u.status.healthy), [true], 'the failures before the file existed were in the grace period');
  t.like(healthy.status, { state: 'TASK_RUNNING', healthy: true, source: 'SOURCE_EXECUTOR' });
  t.deepEqual(master.statesOf('web').slice(0, 2), ['TASK_STARTING', 'TASK_RUNNING']);
});

test('HTTP: a service that turns unhealthy is reported so and killed after consecutive_failures; TASK_KILLED, healthy false', async (t) => {
  const { master, workDir } = await setup(t);
  let ok = true;
  const server = http.createServer((_req, res) => { res.writeHead(ok ? 200 : 503); res.end(); });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  t.teardown(() => new Promise((r) => { server.closeAllConnections(); server.close(() => r(undefined)); }));
  const port = (server.address() as AddressInfo).port;
  master.launch(FW, withCheck('api', 'sleep 60', { ...fast, type: 'HTTP', http: { port, path: 'health' }, consecutive_failures: 3 }));
  await eventually(() => healthUpdates(master, 'api').find((u) => u.status.healthy === true), 'healthy');
  ok = false;
  const sick = await eventually(() => healthUpdates(master, 'api').find((u) => u.status.healthy === false), 'unhealthy');
  t.regex(sick.status.message ?? '', /GET http:\/\/127\.0\.0\.1:\d+\/health: 503/);
  const end = await eventually(() => master.updatesFor('api').find((u) => u.status.state === 'TASK_KILLED'), 'killed');
  t.is(end.status.healthy, false);
  t.regex(end.status.message ?? '', /Task killed after 3 consecutive health check failures \(last: GET .*: 503\)/);
  const { pgid } = await readCheckpoint(workDir, 'api');
  t.false(groupExists(pgid!));
});

test('TCP: failures within the grace period are ignored; a port that opens makes the task healthy', async (t) => {
  const { master } = await setup(t);
  const probe = net.createServer();
  await new Promise<void>((r) => probe.listen(0, '127.0.0.1', () => r()));
  const port = (probe.address() as AddressInfo).port;
  await new Promise((r) => probe.close(r)); // nothing listens yet
  master.launch(FW, withCheck('db', 'sleep 60', { ...fast, type: 'TCP', tcp: { port }, grace_period_seconds: 30, consecutive_failures: 2 }));
  await new Promise((r) => setTimeout(r, 800)); // several failed checks, all in the grace period
  t.deepEqual(healthUpdates(master, 'db'), [], 'nothing reported');
  t.false(master.statesOf('db').includes('TASK_KILLED'), 'not killed');
  const listener = net.createServer((s) => s.destroy());
  await new Promise<void>((r) => listener.listen(port, '127.0.0.1', () => r()));
  t.teardown(() => new Promise((r) => listener.close(() => r(undefined))));
  const healthy = await eventually(() => healthUpdates(master, 'db').find((u) => u.status.healthy === true), 'healthy');
  t.is(healthy.status.state, 'TASK_RUNNING');
});

test('a health check without what its type needs is refused: TASK_ERROR naming the field', async (t) => {
  const { master } = await setup(t);
  master.launch(FW, withCheck('bad', 'sleep 60', { type: 'HTTP', tcp: { port: 80 } }));
  const err = await eventually(() => master.updatesFor('bad').find((u) => u.status.state === 'TASK_ERROR'), 'TASK_ERROR');
  t.regex(err.status.message ?? '', /health_check\.http.*a HTTP health check needs 'http'/);
});
