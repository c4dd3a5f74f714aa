// Shared pieces of the agent tests: temp work dirs, TaskInfo builders, polling and process checks.
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import { join } from 'node:path';
import { silentLogger } from '../../src/common/logger.ts';
import { startAgent, type AgentHandle, type AgentOptions } from '../../agents/agent.ts';
import type { TaskCheckpoint } from '../../agents/executor/command-executor.ts';
import { newestCheckpoint, taskCheckpointPath } from '../../agents/recovery.ts';
import { groupMembers } from '../../agents/executor/process-group.ts';
import { FakeMaster } from './agent-fake-master.ts';

export const FW = 'fw-test';

export async function tempWorkDir(): Promise<{ dir: string; cleanup: () => Promise<void> }> {
  const dir = await mkdtemp(join(os.tmpdir(), 'spillway-agent-'));
  return { dir, cleanup: () => rm(dir, { recursive: true, force: true }) };
}

export function commandTask(id: string, command: string, extra: { mem?: number; ports?: [number, number][]; env?: Record<string, string>; graceMs?: number } = {}): object {
  const resources: object[] = [{ name: 'cpus', type: 'SCALAR', scalar: { value: 0.1 } }];
  if (extra.mem !== undefined) resources.push({ name: 'mem', type: 'SCALAR', scalar: { value: extra.mem } });
  if (extra.ports) resources.push({ name: 'ports', type: 'RANGES', ranges: { range: extra.ports.map(([begin, end]) => ({ begin, end })) } });
  return {
    name: id,
    task_id: { value: id },
    agent_id: { value: 'set-by-master' },
    resources,
    command: {
      value: command,
      shell: true,
      ...(extra.env ? { environment: { variables: Object.entries(extra.env).map(([name, value]) => ({ name, value })) } } : {}),
    },
    ...(extra.graceMs !== undefined ? { kill_policy: { grace_period: { nanoseconds: extra.graceMs * 1e6 } } } : {}),
  };
}

export function startTestAgent(masterUrl: string | readonly string[], workDir: string, extra: Partial<AgentOptions> = {}): Promise<AgentHandle> {
  return startAgent({ masterUrl, port: 0, workDir, logger: silentLogger, reconnectMaxDelayMs: 300, resources: 'cpus:2;mem:1024;disk:1024', ...extra });
}

/** Polls `fn` until it returns something other than undefined/false. */
export async function eventually<T>(fn: () => T | undefined | false | Promise<T | undefined | false>, what: string, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** A task's checkpoint as recovery would read it (the newer of its two slots). */
export async function readCheckpoint(workDir: string, taskId: string): Promise<TaskCheckpoint> {
  const path = taskCheckpointPath(workDir, FW, taskId);
  const found = newestCheckpoint(await Promise.all([path, `${path}.1`].map((p) => readFile(p, 'utf8').catch(() => undefined))));
  if ('error' in found) throw found.error;
  return found.cp;
}

/** Whether any live (non-zombie) process is left in the group. */
export function groupExists(pgid: number): boolean {
  return groupMembers(pgid).length > 0;
}

/** Last-resort cleanup: SIGKILL a task's process group if it is still around. */
export function killGroup(pgid: number | undefined): void {
  if (pgid === undefined) return;
  try {
    process.kill(-pgid, 'SIGKILL');
  } catch {
    // already gone
  }
}

/** A real agent on a fresh work dir, subscribed to a FakeMaster; both stopped (tasks killed) at teardown. */
export async function agentWithFakeMaster(t: { teardown: (fn: () => Promise<void>) => void }, extra: Partial<AgentOptions> = {}): Promise<{ master: FakeMaster; agent: AgentHandle; workDir: string }> {
  const { dir, cleanup } = await tempWorkDir();
  const master = await FakeMaster.start();
  const agent = await startTestAgent(master.url, dir, extra);
  t.teardown(async () => {
    await agent.stop({ killTasks: true });
    await master.close();
    await cleanup();
  });
  await eventually(() => master.connected && agent.agentId(), 'subscription');
  return { master, agent, workDir: dir };
}

