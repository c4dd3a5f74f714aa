// Periodic never runs its work twice at once, and stop() waits for a run in progress.
import test from 'ava';
import { Periodic } from '../src/common/periodic.ts';

test('a tick that finds the last run still going is skipped; stop() waits for the run in progress', async (t) => {
  let active = 0;
  let most = 0;
  let runs = 0;
  let finished = 0;
  const p = new Periodic(async () => {
    runs++;
    active++;
    most = Math.max(most, active);
    await new Promise((r) => setTimeout(r, 60));
    active--;
    finished++;
  }, 5);
  p.start();
  p.start(); // a second start changes nothing
  await new Promise((r) => setTimeout(r, 200));
  await p.stop();
  t.is(most, 1);
  t.true(runs >= 1);
  t.is(finished, runs, 'stop() resolved after the last run ended');
  const after = runs;
  await new Promise((r) => setTimeout(r, 50));
  t.is(runs, after, 'no run after stop()');
});

test('a failing run does not stop the next ones', async (t) => {
  let runs = 0;
  const p = new Periodic(async () => { runs++; throw new Error('boom'); }, 5);
  p.start();
  await new Promise((r) => setTimeout(r, 100));
  await p.stop();
  t.true(runs > 1);
});

test('immediately: false waits one interval for the first run; running says whether ticks are scheduled', async (t) => {
  let runs = 0;
  const p = new Periodic(async () => { runs++; }, 40, { immediately: false });
  t.false(p.running);
  p.start();
  t.true(p.running);
  await new Promise((r) => setImmediate(r));
  t.is(runs, 0, 'nothing at start');
  await new Promise((r) => setTimeout(r, 70));
  t.true(runs >= 1, 'a run after the first interval');
  await p.stop();
  t.false(p.running);
});
