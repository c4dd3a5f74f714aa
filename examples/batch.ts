// The batch framework from the Mesos talk, in a few lines of the Spillway SDK: it takes offers while
// tasks remain, declines them when done, and stops when the last status arrives.
//
//   npm start                                   # in one terminal
//   node --import=tsx examples/batch.ts 10      # in another: 10 tasks
//
// Any Mesos master works too: SPILLWAY_MASTER=http://mesos-master:5050.
import { BatchJob } from '../src/sdk/batch-job.ts';

const count = Number(process.argv[2] ?? 10);
const master = process.env.SPILLWAY_MASTER ?? 'http://127.0.0.1:5050';

const job = new BatchJob({
  master,
  name: 'batch-example',
  tasks: Array.from({ length: count }, (_, i) => ({
    id: `square-${i}`,
    command: `echo "$(( ${i} * ${i} ))"`,
    cpus: 0.1,
    mem: 32,
  })),
});

job.on('launched', (task, offer) => console.log(`launched ${task.id} on ${offer.hostname}`));
job.client.on('error', (message) => console.error(`master says: ${message}`));
job.on('update', (status) => console.log(`${status.task_id.value}: ${status.state}${status.message ? ` (${status.message})` : ''}`));

const results = await job.run();
const failed = results.filter((r) => r.state !== 'TASK_FINISHED');
console.log(`${results.length - failed.length} of ${results.length} tasks finished`);
process.exit(failed.length ? 1 : 0);
