import { test } from 'node:test';
import assert from 'node:assert/strict';
import protobuf from 'protobufjs';
import { fileURLToPath } from 'node:url';
import {
  decodeControlMessage,
  decodeSignResponse,
  encodeProxyMessage,
  encodeSignRequest,
  wire,
} from './push-codec.ts';

// The .proto itself, loaded by protobufjs: the reference the hand encoding must agree with.
const root = protobuf.loadSync(fileURLToPath(new URL('../../api/wire/push.proto', import.meta.url)));
const T = (name: string) => root.lookupType(`weft.push.v1.${name}`);

test('ProxyMessage: hello, ack and nack decode with the .proto', () => {
  const hello = T('ProxyMessage').toObject(
    T('ProxyMessage').decode(
      encodeProxyMessage({ hello: { node: 'node-1', lastVersion: 'abc', proxyVersion: 'weft/x' } }),
    ),
  );
  assert.deepEqual(hello, { hello: { node: 'node-1', lastVersion: 'abc', proxyVersion: 'weft/x' } });
  const ack = T('ProxyMessage').toObject(
    T('ProxyMessage').decode(encodeProxyMessage({ ack: { version: 'v1' } })),
  );
  assert.deepEqual(ack, { ack: { version: 'v1' } });
  const nack = T('ProxyMessage').toObject(
    T('ProxyMessage').decode(encodeProxyMessage({ nack: { version: 'v2', error: 'bad ünïcode' } })),
  );
  assert.deepEqual(nack, { nack: { version: 'v2', error: 'bad ünïcode' } });
});

test('ControlMessage: snapshot (int64 revision) and trust bundle encoded by the .proto decode here', () => {
  const big = 'x'.repeat(300_000);
  const snap = T('ControlMessage')
    .encode(T('ControlMessage').fromObject({ snapshot: { version: 'v9', revision: 2 ** 40 + 3, json: big } }))
    .finish();
  assert.deepEqual(decodeControlMessage(Buffer.from(snap)), {
    kind: 'snapshot',
    version: 'v9',
    revision: 2 ** 40 + 3,
    json: big,
  });
  const tb = T('ControlMessage')
    .encode(T('ControlMessage').fromObject({ trustBundle: { pem: 'PEM' } }))
    .finish();
  assert.deepEqual(decodeControlMessage(Buffer.from(tb)), { kind: 'trustBundle', pem: 'PEM' });
  assert.deepEqual(decodeControlMessage(Buffer.alloc(0)), { kind: 'unknown' });
});

test('SignWorkload request and response', () => {
  const req = T('SignRequest').toObject(
    T('SignRequest').decode(encodeSignRequest({ csrPem: 'CSR', spiffeId: 'spiffe://td/ns/a/sa/b' })),
  );
  assert.deepEqual(req, { csrPem: 'CSR', spiffeId: 'spiffe://td/ns/a/sa/b' });
  const res = T('SignResponse')
    .encode(
      T('SignResponse').fromObject({
        certificatePem: 'C',
        chainPem: 'CC',
        expiresAt: '2026-01-01T00:00:00Z',
      }),
    )
    .finish();
  assert.deepEqual(decodeSignResponse(Buffer.from(res)), {
    certificatePem: 'C',
    chainPem: 'CC',
    expiresAt: '2026-01-01T00:00:00Z',
  });
});

test('unknown fields are skipped; truncated input is an error, not a crash', () => {
  // field 15 varint, field 14 fixed64, field 13 fixed32, then the trust bundle
  const extra = Buffer.from([
    (15 << 3) | 0,
    0x96,
    0x01,
    (14 << 3) | 1,
    1,
    2,
    3,
    4,
    5,
    6,
    7,
    8,
    (13 << 3) | 5,
    1,
    2,
    3,
    4,
  ]);
  const tb = T('ControlMessage')
    .encode(T('ControlMessage').fromObject({ trustBundle: { pem: 'P' } }))
    .finish();
  assert.deepEqual(decodeControlMessage(Buffer.concat([extra, Buffer.from(tb)])), {
    kind: 'trustBundle',
    pem: 'P',
  });
  assert.throws(() => decodeControlMessage(Buffer.from([0x0a, 0x05, 0x01])), /truncated/);
  assert.deepEqual(wire.varint(300), [0xac, 0x02]);
});
