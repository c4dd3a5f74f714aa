// Instance identity proofs, end to end through the real cloud SDKs and the HTTP fakes: the
// bootstrapped launch path gives every EC2 / GCE instance its own join token, bound to the instance
// once the provider names it; the agent fetches its instance's signed identity document (EC2 IMDSv2
// fake) or identity token (GCE metadata fake) and the master checks the signature with the
// configured test keys and that the instance is the one the token was minted for. A proof of
// another instance, a forged document, a token for another audience or no proof are refused.
import test from 'ava';
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { parse } from 'yaml';
import { BIN, operator, waitFor } from './helpers/cluster.ts';
import { tempDir, testRedis } from './helpers/redis.ts';
import { FAST_MASTER } from './helpers/in-process.ts';
import { RawAgent } from './helpers/raw-agent.ts';
import { Ec2Fake } from './fakes/ec2-fake.ts';
import { GceFake } from './fakes/gce-fake.ts';
import { silentLogger } from '../src/common/logger.ts';
import { systemClock } from '../src/common/clock.ts';
import { runMaster, type RunningMaster } from '../src/master/run-master.ts';
import { IdentityVerifier } from '../src/auth/instance-identity.ts';
import { inProcessBootstrapPort, launchBootstrapped } from '../src/bootstrap/bootstrap-launch.ts';
import { PoolSchema } from '../providers/pool-config.ts';
import { createAwsEc2Provider } from '../providers/aws-ec2/index.ts';
import { createGcpComputeProvider } from '../providers/gcp-compute/gcp-compute-provider.ts';
import { fetchPlacement } from '../agents/metadata-server.ts';
import { fetchIdentityProof } from '../agents/instance-identity.ts';
import type { RedisProcess } from '../src/up/redis-process.ts';

// The SDK's default credential chain must find nothing and touch no network (no real IMDS).
for (const k of Object.keys(process.env)) if (k.startsWith('AWS_') && k !== 'AWS_CA_BUNDLE') delete process.env[k];
process.env.AWS_EC2_METADATA_DISABLED = 'true';
process.env.AWS_SHARED_CREDENTIALS_FILE = join(tmpdir(), 'spillway-no-such-dir', 'credentials');
process.env.AWS_CONFIG_FILE = join(tmpdir(), 'spillway-no-such-dir', 'config');

const PROJECT = 'spillway-test';
const ZONE = 'us-central1-a';

let ec2: Ec2Fake;
let gce: GceFake;
let redis: RedisProcess;
let master: RunningMaster;
const cleanups: (() => Promise<void> | void)[] = [];

test.before(async () => {
  ec2 = await Ec2Fake.start();
  gce = await GceFake.start();
  redis = await testRedis();
  const identity = new IdentityVerifier({
    awsCertificates: ec2.identitySigner().cert.certPem, // plays AWS' published regional RSA certificate
    gcpJwks: { json: gce.identitySigner().jwks() }, // plays https://www.googleapis.com/oauth2/v3/certs
    gcpAudience: 'spillway:default', clock: systemClock,
  });
  // The master shares this process with the cloud fakes, the GCE SDK and RSA signing, which on a
  // loaded 2-core machine can hold the event loop past 90 % of the default 3 s lease (seen: the
  // term ended mid-test). Leadership is not what this file tests.
  master = await runMaster({ redisUrl: redis.url, host: '127.0.0.1', port: 0, config: FAST_MASTER, log: silentLogger, agentAuth: { mode: 'required', identity }, leaderLeaseMs: 15_000 });
});

test.after.always(async () => {
  for (const c of cleanups.reverse()) await c();
  await master?.stop();
  await redis?.stop();
  await ec2?.close();
  await gce?.close();
});

const port = () => inProcessBootstrapPort(master.http.bootstrap, master.http.agentAuth.tokens);
const configIn = (userData: string) => {
  const cfg = parse(userData) as { write_files: { path: string; content: string }[] };
  return JSON.parse(cfg.write_files.find((f) => f.path.endsWith('/etc/agent.json'))!.content) as { joinToken: string; identity: { provider: string; audience?: string }; masterUrl: string };
};
const agents = async () => (await operator(master.url, 'GET_AGENTS')).get_agents.agents as { active: boolean; agent_info: { attributes: { name: string; text?: { value: string } }[] } }[];
const instanceOf = (a: Awaited<ReturnType<typeof agents>>[number]) => a.agent_info.attributes.find((x) => x.name === 'instance')?.text?.value;

test.serial('EC2: each instance joins with its own token and its signed identity document; proofs of another instance or forged ones are refused', async (t) => {
  const pool = PoolSchema.parse({
    name: 'aws-burst', provider: 'aws-ec2', ownership: 'rented', max: 10,
    instanceTypes: [{ name: 'm5.large', cpus: 2, mem: 8192, price: 0.096 }],
    aws: { region: 'us-east-1', endpoint: ec2.url, amiId: 'ami-0123456789abcdef0', credentials: { accessKeyId: 'AKIDSPILLWAYTEST', secretAccessKey: 'not-a-secret' } },
  });
  const provider = createAwsEc2Provider([pool], { cluster: 'default', masterUrl: master.url, log: silentLogger, clock: systemClock }, { retry: { sleep: async () => {} } });
  cleanups.push(() => provider.close());
  const launched = await launchBootstrapped(provider, pool, 2, { token: 'scale-up-7', instanceType: 'm5.large' }, port());
  t.is(launched.length, 2);
  t.is(ec2.requestsFor('RunInstances').length, 2, 'one RunInstances per instance: one user-data, one token each');
  const [a, b] = launched.map((i) => ec2.instance(i.id)!);
  const cfgA = configIn(a!.userData!);
  const cfgB = configIn(b!.userData!);
  t.not(cfgA.joinToken, cfgB.joinToken);
  t.is(cfgA.identity.provider, 'aws-ec2');

  // A retry of the same launch sends byte-identical user-data: EC2's idempotency still matches.
  const again = await launchBootstrapped(provider, pool, 2, { token: 'scale-up-7', instanceType: 'm5.large' }, port());
  t.deepEqual(again.map((i) => i.id), launched.map((i) => i.id));
  t.is(ec2.liveInstances().length, 2, 'nothing launched twice');

  // The real agent on "instance a": fetches its document from (the fake) IMDS and joins.
  const imdsA = await ec2.startMetadataServer(a!.id);
  const imdsB = await ec2.startMetadataServer(b!.id);
  const forged = await ec2.startMetadataServer(b!.id, { tamper: (doc) => doc.replace(b!.id, a!.id) });
  cleanups.push(() => imdsA.close(), () => imdsB.close(), () => forged.close());
  const cfgFile = join(tempDir('spillway-ec2-vm-'), 'agent.json');
  writeFileSync(cfgFile, JSON.stringify({ ...cfgA, workDir: tempDir('spillway-ec2-work-') }));
  const child = spawn(process.execPath, [BIN, 'agent', '--config', cfgFile, '--port', '0', '--metadata-url', imdsA.url, '--resources', 'cpus:2;mem:512;ports:[35000-35010]'],
    { stdio: 'ignore', env: { ...process.env, SPILLWAY_LOG_LEVEL: 'warn' } });
  cleanups.push(() => { child.kill('SIGKILL'); });
  await waitFor(async () => (await agents()).some((x) => x.active && instanceOf(x) === a!.id), 60_000, 'instance a\'s agent to join');
  // Its zone and region come from the metadata server (reports and spot prices are by zone).
  const attrsA = Object.fromEntries((await agents()).find((x) => instanceOf(x) === a!.id)!.agent_info.attributes.map((x) => [x.name, x.text?.value]));
  t.like(attrsA, { zone: a!.zone, region: 'us-east-1' });

  // Instance b's token with instance a's (genuine) document: refused.
  const proofA = await fetchIdentityProof({ provider: 'aws-ec2', metadataUrl: imdsA.url });
  const stolen = await new RawAgent(master.url).subscribe({ authorization: `Bearer ${cfgB.joinToken}`, pool: 'aws-burst', identity: proofA });
  t.is(stolen.status, 403);
  t.regex(stolen.body, new RegExp(`was minted for instance ${b!.id}; this agent is instance ${a!.id}`));
  // A document edited after signing: refused.
  const tampered = await new RawAgent(master.url).subscribe({ authorization: `Bearer ${cfgB.joinToken}`, pool: 'aws-burst', identity: await fetchIdentityProof({ provider: 'aws-ec2', metadataUrl: forged.url }) });
  t.is(tampered.status, 403);
  t.regex(tampered.body, /signature does not verify with the configured AWS certificates/);
  // No proof at all: refused.
  const none = await new RawAgent(master.url).subscribe({ authorization: `Bearer ${cfgB.joinToken}`, pool: 'aws-burst' });
  t.is(none.status, 403);
  t.regex(none.body, /must present its instance identity document/);
  // The right instance with its own proof gets in (its token was untouched by the refusals).
  const rightB = new RawAgent(master.url);
  cleanups.push(() => rightB.close());
  t.is((await rightB.subscribe({ authorization: `Bearer ${cfgB.joinToken}`, pool: 'aws-burst', identity: await fetchIdentityProof({ provider: 'aws-ec2', metadataUrl: imdsB.url }) })).status, 200);
  t.is(instanceOf((await agents()).find((x) => x.active && instanceOf(x) === b!.id)!), b!.id, 'the master records the verified instance id');
});

test.serial('GCE: the instance identity token (RS256 JWT) is checked for signature, audience and instance', async (t) => {
  const pool = PoolSchema.parse({
    name: 'gce-burst', provider: 'gcp-compute', ownership: 'rented', max: 10,
    instanceTypes: [{ name: 'e2-standard-4', cpus: 4, mem: 16384, price: 0.134 }],
    gcp: { project: PROJECT, zone: ZONE, sourceImage: 'projects/debian-cloud/global/images/family/debian-12', apiEndpoint: gce.endpoint, insecure: true },
  });
  const provider = createGcpComputeProvider([pool], { cluster: 'default', masterUrl: master.url, log: silentLogger, clock: systemClock }, { sleep: async () => {} });
  cleanups.push(() => provider.close());
  const launched = await launchBootstrapped(provider, pool, 2, { token: 'gce-up-1', instanceType: 'e2-standard-4' }, port());
  const [a, b] = launched.map((i) => gce.instance(PROJECT, ZONE, i.id)!);
  const userDataOf = (inst: Record<string, any>) => (inst.metadata.items as { key: string; value: string }[]).find((x) => x.key === 'user-data')!.value; // eslint-disable-line @typescript-eslint/no-explicit-any
  const cfgA = configIn(userDataOf(a!));
  const cfgB = configIn(userDataOf(b!));
  t.deepEqual(cfgA.identity, { provider: 'gcp-compute', audience: 'spillway:default' });
  const mdA = await gce.startMetadataServer(PROJECT, ZONE, a!.name);
  cleanups.push(() => mdA.close());

  t.deepEqual(await fetchPlacement('gcp-compute', mdA.url, 2000), { zone: ZONE, region: ZONE.replace(/-[a-z]$/, '') }, 'the zone agents take as attribute');
  const proof = await fetchIdentityProof({ provider: 'gcp-compute', metadataUrl: mdA.url, audience: cfgA.identity.audience });
  const wrongInstance = await new RawAgent(master.url).subscribe({ authorization: `Bearer ${cfgB.joinToken}`, pool: 'gce-burst', identity: proof });
  t.is(wrongInstance.status, 403, wrongInstance.body);
  t.regex(wrongInstance.body, new RegExp(`minted for instance ${b!.name}; this agent is instance ${a!.name}`));
  const otherAudience = await new RawAgent(master.url).subscribe({
    authorization: `Bearer ${cfgA.joinToken}`, pool: 'gce-burst', identity: await fetchIdentityProof({ provider: 'gcp-compute', metadataUrl: mdA.url, audience: 'https://somewhere.else' }),
  });
  t.is(otherAudience.status, 403);
  t.regex(otherAudience.body, /is for audience 'https:\/\/somewhere\.else', not 'spillway:default'/);
  const forged = await new RawAgent(master.url).subscribe({ authorization: `Bearer ${cfgA.joinToken}`, pool: 'gce-burst', identity: { gcp: { token: `${(proof as { gcp: { token: string } }).gcp.token.slice(0, -4)}AAAA` } } });
  t.is(forged.status, 403);
  t.regex(forged.body, /signature does not verify with the configured JWKS/);

  const real = new RawAgent(master.url);
  cleanups.push(() => real.close());
  t.is((await real.subscribe({ authorization: `Bearer ${cfgA.joinToken}`, pool: 'gce-burst', identity: proof })).status, 200);
  t.true((await agents()).some((x) => x.active && instanceOf(x) === a!.name));
});
