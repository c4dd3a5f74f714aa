import { Launcher } from '../agents/executor/launcher.ts';
import { silentLogger } from '../src/common/logger.ts';
import { mkdirSync } from 'node:fs';
const N = Number(process.argv[2] ?? 1000);
const l = new Launcher({ PATH: process.env.PATH! }, silentLogger as any);
for (let i = 0; i < 50; i++) mkdirSync(`/tmp/lsb/${i}`, { recursive: true });
let done = 0; const t0 = performance.now();
for (let i = 0; i < N; i++) l.launch({ sandbox: `/tmp/lsb/${i % 50}`, variables: { MESOS_TASK_ID: `t${i}`, MESOS_SANDBOX: '/tmp/x' }, argv: ['/bin/sh', '-c', 'true'] }, { onStarted() {}, onExited() { if (++done === N) { console.log('wall ms', performance.now() - t0); void l.close().then(() => process.exit(0)); } }, onFailed(r) { console.log('fail', r); }, onLauncherGone() {} });
