import assert from '../support/assert.js';
import { generateKeyPairSync } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from '@jest/globals';
import Database from 'better-sqlite3';
import type { GetCheckpointResponse, VerifyChainResponse } from '../../generated/audit/v1/audit_service.js';
import { checkpointFromJson, checkpointSignedBy, checkpointToJson } from '../../src/domain/checkpoint.js';
import { sealEvent } from '../../src/store/hash-chain.js';
import { editStored } from '../support/tamper.js';
import { makeEvent, startServer, StreamReader, waitFor, type TestServer } from '../support/server.js';
import { KafkaTestBroker } from '../support/kafka-broker/index.js';
import { consume, fastKafka } from '../support/kafka-sink.js';
import { SseClient } from '../support/sse-client.js';
import { WsClient } from '../support/ws-client.js';
import { cli } from '../support/cli.js';
import { fromTimestamp } from '../../src/contract/time-mapping.js';

/** A folder with an Ed25519 key pair and a config that turns checkpoints on. */
function setup() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'auditstream-cp-'));
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  fs.writeFileSync(path.join(dir, 'key.pem'), privateKey.export({ type: 'pkcs8', format: 'pem' }));
  fs.writeFileSync(path.join(dir, 'pub.pem'), publicKey.export({ type: 'spki', format: 'pem' }));
  const db = path.join(dir, 'audit.db');
  const config = { storage: { path: db, checkpoints: { key_file: path.join(dir, 'key.pem'), every_events: 10, every: '100ms' } } };
  return { dir, db, config, publicKey, pub: path.join(dir, 'pub.pem') };
}

async function publishMany(server: TestServer, n: number): Promise<void> {
  for (let i = 0; i < n; i++) await server.api.publish({ event: makeEvent({ metadata: { i } }) });
}

const rpc = <Res>(start: (cb: (e: Error | null, r: Res) => void) => void) => new Promise<Res>((resolve, reject) => start((e, r) => (e ? reject(e) : resolve(r))));
const newestCheckpoint = (server: TestServer) => rpc<GetCheckpointResponse>((cb) => server.client.getCheckpoint({}, cb)).then((r) => r.checkpoint!);

/** Waits for a checkpoint covering `sequence`; returns it in the JSON form a subscriber would keep. */
async function checkpointAt(server: TestServer, sequence: number) {
  const cp = await waitFor(`a checkpoint at ${sequence}`, async () => {
    const got = await newestCheckpoint(server).catch(() => undefined);
    return got && Number(got.sequence) >= sequence ? got : undefined;
  });
  return { ...cp, sequence: Number(cp.sequence), time: cp.time! };
}


/** What someone with write access to the database does: drop the newest rows and make `meta` agree. */
function cutTail(db: string, keep: number): void {
  const raw = new Database(db);
  const hash = (raw.prepare('SELECT hash FROM events WHERE sequence = ?').get(keep) as { hash: Buffer }).hash;
  raw.prepare('DELETE FROM events WHERE sequence > ?').run(keep);
  raw.prepare("UPDATE meta SET sequence = ?, hash = ? WHERE key = 'last'").run(keep, hash);
  raw.close();
}

test('checkpoints are signed, served and verifiable offline; a cut tail is refused at start', async () => {
  const { db, config, publicKey, pub, dir } = setup();
  let server = await startServer(config);
  await publishMany(server, 25);
  const cp = await checkpointAt(server, 25);
  const domain = { sequence: cp.sequence, hash: cp.hash, time: fromTimestamp(cp.time!).date, signature: cp.signature, keyId: cp.keyId };
  assert.equal(checkpointSignedBy(publicKey, domain), true);
  assert.equal(checkpointSignedBy(publicKey, { ...domain, sequence: 24 }), false, 'the signature binds the sequence');
  const lines = fs.readFileSync(`${db}.checkpoints`, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
  assert.ok(lines.length >= 2 && lines.at(-1).sequence === 25, 'appended, one JSON line each');
  const held = path.join(dir, 'held.json');
  fs.writeFileSync(held, JSON.stringify(checkpointToJson(domain)));
  const ok = await cli(['verify', '--checkpoint', held, '--public-key', pub, '--server', server.address]);
  assert.equal(ok.code, 0, ok.stdout);
  await server.close();

  cutTail(db, 18);
  await assert.rejects(startServer(config), /the log ends at sequence 18 but the checkpoint signed .* covers sequence 25: sequences 19\.\.25 are missing/);
  const offline = await cli(['verify', '--checkpoint', held, '--public-key', pub, '--offline', db]);
  assert.equal(offline.code, 1);
  assert.match(offline.stdout, /log DOES NOT MATCH the checkpoint: the log ends at sequence 18/);
  fs.rmSync(`${db}.checkpoints`); // the attacker deletes the checkpoints too: the server starts...
  server = await startServer(config);
  const remote = await cli(['verify', '--checkpoint', held, '--public-key', pub, '--server', server.address]);
  await server.close();
  assert.equal(remote.code, 1);
  assert.match(remote.stdout, /sequence 25 is not in the log/, '...but the checkpoint a subscriber kept proves the cut');
});

test('a chain rewritten from row N passes VerifyChain\'s own checks but not the checkpoint: DATA_LOSS, and refused at start', async () => {
  const { db, config } = setup();
  const server = await startServer(config);
  await publishMany(server, 30);
  const cp = await checkpointAt(server, 30);
  // Another writer edits event 12 and re-seals every hash from there, as an attacker with the file would.
  const raw = new Database(db);
  const newest = (raw.prepare('SELECT max(sequence) AS n FROM events').get() as { n: number }).n;
  let previous = (raw.prepare('SELECT hash FROM events WHERE sequence = 11').get() as { hash: Buffer }).hash;
  for (let sequence = 12; sequence <= newest; sequence++) {
    const forged = editStored(raw, sequence, (e) =>
      sealEvent({ ...e, action: e.sequence === 12 ? 'forged' : e.action, metadataSalts: e.metadataSalts }, e.sequence, e.receivedAt, previous));
    previous = Buffer.from(forged.hash);
  }
  raw.prepare("UPDATE meta SET hash = ? WHERE key = 'last'").run(previous);
  raw.close();
  const err = await rpc<VerifyChainResponse>((cb) => server.client.verifyChain({ fromSequence: 0, toSequence: 0 }, cb)).catch((e: { code: number; details: string }) => e);
  assert.equal((err as { code: number }).code, 15, 'DATA_LOSS');
  assert.match((err as { details: string }).details, new RegExp(`sequence ${cp.sequence} has hash [0-9a-f]{64} but the checkpoint .* the log was rewritten`));
  await server.close();
  await assert.rejects(startServer(config), /the log was rewritten/);
});

test('heartbeats carry the newest checkpoint on gRPC, WebSocket and SSE, and a kept one verifies with the CLI', async () => {
  const { config, dir, pub } = setup();
  const server = await startServer({ ...config, audit: { subscriber: { heartbeat_interval: '100ms' } } });
  try {
    await publishMany(server, 12);
    const cp = await checkpointAt(server, 12);
    const grpc = StreamReader.open(server.client, { afterSequence: 0 });
    const beat = await grpc.until('a heartbeat with a checkpoint', () => grpc.messages
      .map((m) => (m.kind?.$case === 'heartbeat' ? m.kind.heartbeat.checkpoint : undefined)).find((c) => c !== undefined));
    assert.equal(Number(beat.sequence), cp.sequence);
    assert.deepEqual(beat.signature, cp.signature);
    grpc.cancel();
    const ws = await WsClient.open(server.httpUrl);
    await ws.subscribe('s', {});
    const frame = await ws.until('a heartbeat frame with a checkpoint', () => ws.frames.find((f) => f.type === 'heartbeat' && f.checkpoint));
    ws.close();
    const sse = await SseClient.open(`${server.httpUrl}/v1/events`);
    const message = await sse.until('an SSE checkpoint event', () => sse.messages.find((m) => m.event === 'checkpoint'));
    sse.close();
    assert.deepEqual(JSON.parse(message.data!), frame.checkpoint, 'the same proto JSON on both bridges');
    const kept = path.join(dir, 'from-heartbeat.json');
    fs.writeFileSync(kept, JSON.stringify(frame.checkpoint));
    const verified = await cli(['verify', '--checkpoint', kept, '--public-key', pub, '--server', server.address]);
    assert.equal(verified.code, 0, verified.stdout);
  } finally {
    await server.close();
  }
});

test('with Kafka enabled, each checkpoint is also sent to the checkpoints topic, where its signature verifies', async () => {
  const { config, publicKey } = setup();
  const broker = await KafkaTestBroker.start({ partitions: 1 });
  const server = await startServer({ ...config, kafka: fastKafka(broker) });
  try {
    await publishMany(server, 10);
    const [record] = await consume(broker, ['auditstream.checkpoints'], 1);
    assert.equal(record!.key, 'checkpoint');
    const cp = checkpointFromJson(JSON.parse(record!.value.toString()));
    assert.ok(cp.sequence >= 1 && cp.sequence <= 10, `covers a published sequence (${cp.sequence})`);
    assert.equal(checkpointSignedBy(publicKey, cp), true);
  } finally {
    await server.close();
    await broker.stop();
  }
});
