// Checkpoints that let a restarted agent pick up where it left off: `${workDir}/agent.json` holds
// the agent id, `${workDir}/tasks/<framework_id>/<task_id>.json` each task's TaskInfo, process group
// and last state. Files are written to a temp name and renamed, so an agent crash leaves the old or
// the new version, never a torn one. The agent id is also fsynced; task checkpoints are not (three
// per task would dominate a busy agent's disk time): after a power loss, when their tasks are gone
// anyway, a checkpoint lost or torn is skipped at recovery and the master, not finding the task on
// the re-registered agent, reports it TASK_LOST.
//
// Order of writes (see CommandExecutor.report): a status update is journaled before the checkpoint
// records the state it announces. A crash in between can make recovery report a terminal state a
// second time (new uuid) but can never lose one.
import { mkdir, open, readdir, readFile, rename, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { TaskCheckpoint } from './executor/command-executor.ts';

export async function loadAgentId(workDir: string): Promise<string | undefined> {
  try {
    const saved = JSON.parse(await readFile(join(workDir, 'agent.json'), 'utf8')) as { agent_id?: string };
    return typeof saved.agent_id === 'string' && saved.agent_id ? saved.agent_id : undefined;
  } catch {
    return undefined;
  }
}

export function saveAgentId(workDir: string, agentId: string): Promise<void> {
  return writeAtomically(join(workDir, 'agent.json'), { agent_id: agentId }, true);
}

export const taskCheckpointPath = (workDir: string, frameworkId: string, taskId: string): string =>
  join(workDir, 'tasks', frameworkId, `${taskId}.json`);

export function saveTaskCheckpoint(workDir: string, cp: TaskCheckpoint): Promise<void> {
  return writeAtomically(taskCheckpointPath(workDir, cp.framework_id, cp.task.task_id.value), cp, false);
}

/** Every readable task checkpoint; unreadable ones are reported through `onBad` and skipped. */
export async function loadTaskCheckpoints(workDir: string, onBad: (path: string, err: Error) => void): Promise<TaskCheckpoint[]> {
  const root = join(workDir, 'tasks');
  const out: TaskCheckpoint[] = [];
  for (const fw of await listDir(root)) {
    for (const file of await listDir(join(root, fw))) {
      if (!file.endsWith('.json')) continue;
      const path = join(root, fw, file);
      try {
        const cp = JSON.parse(await readFile(path, 'utf8')) as TaskCheckpoint;
        if (!cp.task?.task_id?.value || !cp.framework_id || !cp.state) throw new Error('incomplete checkpoint');
        out.push(cp);
      } catch (err) {
        onBad(path, err as Error);
      }
    }
  }
  return out;
}

async function listDir(dir: string): Promise<string[]> {
  try {
    return await readdir(dir);
  } catch {
    return [];
  }
}

async function writeAtomically(path: string, value: unknown, durable: boolean): Promise<void> {
  const tmp = `${path}.tmp`;
  try {
    await writeTemp(tmp, JSON.stringify(value), durable);
  } catch (err) {
    // The first checkpoint of a framework creates its directory (cheaper than a mkdir every time).
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    await mkdir(dirname(path), { recursive: true });
    await writeTemp(tmp, JSON.stringify(value), durable);
  }
  await rename(tmp, path);
}

async function writeTemp(tmp: string, text: string, durable: boolean): Promise<void> {
  if (!durable) return writeFile(tmp, text);
  const fh = await open(tmp, 'w');
  try {
    await fh.write(text);
    await fh.sync();
  } finally {
    await fh.close();
  }
}
