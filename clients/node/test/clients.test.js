// A Node client built from proto/ alone, against a running suite (scripts/clients.sh).
//
// @grpc/proto-loader turns proto/ into service definitions at start (no hand-written
// code); @grpc/grpc-js makes the clients; google.rpc error details are decoded from
// grpc-status-details-bin with protobufjs and the official google/rpc protos
// (google-proto-files). AXLE_SUITE is the JSON of `axle up`'s "axle is up" line.
'use strict';

const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');

const grpc = require('@grpc/grpc-js');
const protoLoader = require('@grpc/proto-loader');
const protobuf = require('protobufjs');
const googleProtoFiles = require('google-proto-files');

const suite = JSON.parse(process.env.AXLE_SUITE);
const PROTO_DIR = path.resolve(__dirname, '../../../proto');
const VALID_VIN = 'WP0AA2978BL012976';
const DOMAIN = 'axle.dev';

// Every method this file calls; a service that lands adds one entry and its cases.
const COVERED = {
  'axle.vin.v1.VinService': ['DecodeVin', 'ValidateVin'],
  'axle.plate.v1.PlateService': ['LookupVehicle', 'ParsePlate'],
  'axle.violation.v1.ViolationService': ['GetCityRules', 'QueryViolations'],
  'axle.aggregator.v1.AggregatorService': ['GetVehicleProfile', 'StreamVehicleProfile'],
  'axle.ocr.v1.OcrService': ['RecognizeVehicleLicense'],
};

const definition = protoLoader.loadSync(
  [
    'axle/vin/v1/vin.proto',
    'axle/plate/v1/plate.proto',
    'axle/violation/v1/violation.proto',
    'axle/aggregator/v1/aggregator.proto',
    'axle/ocr/v1/ocr.proto',
  ],
  {
    includeDirs: [PROTO_DIR],
    keepCase: true, // field names as in proto/: normalized_vin, not normalizedVin
    enums: String, // enum values by name
    longs: String,
    defaults: true,
    oneofs: true,
  },
);
const axle = grpc.loadPackageDefinition(definition).axle;

// google.rpc.Status and the detail messages, for grpc-status-details-bin.
const rpcRoot = new protobuf.Root();
rpcRoot.resolvePath = (_origin, target) =>
  target.startsWith('google/') ? path.join(googleProtoFiles.getProtoPath(), '..', target) : target;
rpcRoot.loadSync(['google/rpc/status.proto', 'google/rpc/error_details.proto'], { keepCase: true });
rpcRoot.resolveAll();
const RpcStatus = rpcRoot.lookupType('google.rpc.Status');

/** The google.rpc details of a failed call, by type name (BadRequest, ErrorInfo ...). */
function details(err) {
  const [bin] = err.metadata.get('grpc-status-details-bin');
  assert.ok(bin, `${grpc.status[err.code]} carries no grpc-status-details-bin`);
  const status = RpcStatus.decode(bin);
  assert.equal(status.code, err.code, 'the rich status repeats the code');
  const out = {};
  for (const any of status.details) {
    const name = any.type_url.split('/').pop();
    const type = rpcRoot.lookupType(name);
    out[type.name] = type.toObject(type.decode(any.value), { defaults: true, longs: Number });
  }
  return out;
}

function deadline(seconds) {
  return { deadline: new Date(Date.now() + seconds * 1000) };
}

function call(client, method, request, seconds = 10) {
  return new Promise((resolve, reject) => {
    client[method](request, deadline(seconds), (err, resp) => (err ? reject(err) : resolve(resp)));
  });
}

async function callError(client, method, request) {
  try {
    await call(client, method, request);
  } catch (err) {
    return err;
  }
  assert.fail(`${method} succeeded; an error was expected`);
}

let vin;
let plate;
let violation;
let aggregator;
let ocr;
before(() => {
  ocr = new axle.ocr.v1.OcrService(suite.ocr, grpc.credentials.createInsecure());
  aggregator = new axle.aggregator.v1.AggregatorService(
    suite.aggregator,
    grpc.credentials.createInsecure(),
  );
  vin = new axle.vin.v1.VinService(suite.vin, grpc.credentials.createInsecure());
  plate = new axle.plate.v1.PlateService(suite.plate, grpc.credentials.createInsecure());
  violation = new axle.violation.v1.ViolationService(
    suite.violation,
    grpc.credentials.createInsecure(),
  );
});
after(() => {
  vin.close();
  plate.close();
  violation.close();
  aggregator.close();
  ocr.close();
});

test('the loaded definitions hold exactly the covered methods', () => {
  for (const [name, methods] of Object.entries(COVERED)) {
    const service = definition[name];
    assert.ok(service, `${name} is not in proto/`);
    assert.deepEqual(Object.keys(service).sort(), methods);
  }
});

test('ValidateVin answers locally', async () => {
  const r = await call(vin, 'ValidateVin', { vin: VALID_VIN });
  assert.equal(r.valid, true);
  assert.equal(r.check_digit.state, 'CHECK_DIGIT_STATE_VALID');
  assert.equal(r.manufacturer.wmi, 'WP0');
  assert.equal(r.country.code, 'DE');
});

test('ValidateVin explains a malformed VIN', async () => {
  const r = await call(vin, 'ValidateVin', { vin: 'WPOAA2978BL012976' });
  assert.equal(r.valid, false);
  assert.equal(r.suggested_vin, VALID_VIN);
  assert.ok(r.problems.some((p) => p.position === 3 && p.kind === 'VIN_PROBLEM_KIND_FORBIDDEN_LETTER'));
});

test('ValidateVin of nothing is INVALID_ARGUMENT with a field violation', async () => {
  const err = await callError(vin, 'ValidateVin', { vin: '' });
  assert.equal(err.code, grpc.status.INVALID_ARGUMENT);
  const d = details(err);
  assert.deepEqual(d.BadRequest.field_violations.map((v) => v.field), ['vin']);
  assert.equal(d.ErrorInfo.domain, DOMAIN);
  assert.equal(d.ErrorInfo.reason, 'INVALID_REQUEST');
});

test('DecodeVin merges the vendor', async () => {
  const r = await call(vin, 'DecodeVin', { vin: VALID_VIN }, 15);
  assert.equal(r.local.valid, true);
  const connapi = r.sources.find((s) => s.source === 'connapi');
  assert.ok(connapi, 'connapi reports a status');
  assert.equal(connapi.state, 'SOURCE_STATE_OK');
  assert.equal(connapi.sandbox, true);
  assert.ok(r.summary.brand.value);
});

test('DecodeVin refuses an invalid VIN and names the fix', async () => {
  const err = await callError(vin, 'DecodeVin', { vin: 'WPOAA2978BL012976' });
  assert.equal(err.code, grpc.status.INVALID_ARGUMENT);
  const d = details(err);
  assert.equal(d.BadRequest.field_violations[0].reason, 'VIN_PROBLEM_KIND_FORBIDDEN_LETTER');
  assert.equal(d.ErrorInfo.reason, 'INVALID_VIN');
  assert.equal(d.ErrorInfo.metadata.suggested_vin, VALID_VIN);
});

test('an unknown method is UNIMPLEMENTED and names itself', async () => {
  const client = new grpc.Client(suite.vin, grpc.credentials.createInsecure());
  const err = await new Promise((resolve) => {
    client.makeUnaryRequest(
      '/axle.vin.v1.VinService/NoSuchMethod',
      (b) => b,
      (b) => b,
      Buffer.alloc(0),
      deadline(5),
      (e) => resolve(e),
    );
  });
  client.close();
  assert.equal(err.code, grpc.status.UNIMPLEMENTED);
  const info = details(err).ErrorInfo;
  assert.equal(info.reason, 'UNKNOWN_METHOD');
  assert.equal(info.metadata.method, '/axle.vin.v1.VinService/NoSuchMethod');
});

test('overload is RESOURCE_EXHAUSTED with RetryInfo', async () => {
  // scripts/clients.sh runs vin-service with max_concurrent_requests = 2.
  await faults([{ vendor: 'connapi', latency: { kind: 'fixed', ms: 2000 } }]);
  try {
    const before = await arrived('connapi');
    let ended = false;
    const slow = Promise.all([
      call(vin, 'DecodeVin', { vin: VALID_VIN }),
      call(vin, 'DecodeVin', { vin: VALID_VIN }),
    ]).finally(() => {
      ended = true;
    });
    slow.catch(() => {}); // awaited below; a shed slow call must not be an unhandled rejection
    // Probe only once both slow calls are being answered by the vendor: a probe sent
    // earlier may overtake the second one on the wire and take its place.
    const until = Date.now() + 1500;
    while ((await arrived('connapi')) < before + 2 && Date.now() < until && !ended) {
      await new Promise((r) => setTimeout(r, 10));
    }
    assert.ok((await arrived('connapi')) >= before + 2, 'the slow calls did not arrive');
    const shed = await callError(vin, 'ValidateVin', { vin: VALID_VIN });
    assert.ok(!ended, 'a slow call ended before the probe was answered');
    assert.ok((await slow).every((r) => r.local.valid));
    assert.equal(shed.code, grpc.status.RESOURCE_EXHAUSTED);
    const retry = details(shed).RetryInfo;
    const delay = Number(retry.retry_delay.seconds) + retry.retry_delay.nanos / 1e9;
    assert.ok(delay > 0, `retry_delay ${JSON.stringify(retry.retry_delay)}`);
  } finally {
    await faults([]);
  }
});

test('ParsePlate names the issuing authority', async () => {
  const r = await call(plate, 'ParsePlate', { plate: '粤B·12345' });
  assert.equal(r.valid, true);
  assert.equal(r.normalized_plate, '粤B12345');
  assert.equal(r.issuing_authority.city, '深圳市');
  assert.equal(r.color_needed, true);
  const typed = await call(plate, 'ParsePlate', { plate: '粤B12345', color: 'PLATE_COLOR_BLUE' });
  assert.equal(typed.plate_type.code, '02');
});

test('ParsePlate of nothing is INVALID_ARGUMENT', async () => {
  const err = await callError(plate, 'ParsePlate', { plate: '' });
  assert.equal(err.code, grpc.status.INVALID_ARGUMENT);
  assert.equal(details(err).BadRequest.field_violations[0].field, 'plate');
});

test('LookupVehicle merges both vendors, VIN masked', async () => {
  const r = await call(plate, 'LookupVehicle', { plate: '粤B12345' }, 20);
  assert.equal(r.vin_valid, true);
  assert.equal(r.vin.value.length, 17);
  assert.ok(r.vin.value.includes('*'), 'masked without privacy.reveal_full_vin');
  const states = Object.fromEntries(r.sources.map((s) => [s.source, s.state]));
  assert.equal(states.xiaoshibao, 'SOURCE_STATE_OK');
  assert.equal(states.platecb, 'SOURCE_STATE_OK');
});

test('LookupVehicle refuses a malformed plate', async () => {
  const err = await callError(plate, 'LookupVehicle', { plate: 'XX' });
  assert.equal(err.code, grpc.status.INVALID_ARGUMENT);
  const d = details(err);
  assert.equal(d.ErrorInfo.reason, 'INVALID_PLATE');
  assert.equal(d.BadRequest.field_violations[0].field, 'plate');
});

test('GetCityRules types what a city requires', async () => {
  const r = await call(violation, 'GetCityRules', { plate: '粤B' });
  const rule = r.rules.find((x) => x.prefix === '粤B');
  assert.ok(rule, JSON.stringify(r.rules));
  assert.equal(rule.city, '深圳市');
  assert.equal(rule.engine_number.kind, 'REQUIREMENT_KIND_LAST_CHARS');
  assert.equal(rule.engine_number.last_chars, 6);
});

test('QueryViolations answers the seed example with provenance', async () => {
  const r = await call(
    violation,
    'QueryViolations',
    {
      plate: '粤AJ44E6',
      plate_type: '02',
      engine_number: 'AD50EG081600062',
      vin: 'LNBSCC3H8GF308384',
    },
    20,
  );
  assert.equal(r.outcome, 'QUERY_OUTCOME_VIOLATIONS', JSON.stringify(r.sources));
  assert.equal(r.violations.length, 2);
  assert.equal(r.violations[0].provenance.source, 'apistore');
  assert.equal(r.violations[0].provenance.sandbox, true);
});

test('QueryViolations refuses what the city rule does not allow, with field violations', async () => {
  const err = await callError(violation, 'QueryViolations', { plate: '粤B12345', plate_type: '02' });
  assert.equal(err.code, grpc.status.INVALID_ARGUMENT);
  const d = details(err);
  assert.equal(d.ErrorInfo.reason, 'CITY_RULE_NOT_MET');
  const fields = d.BadRequest.field_violations.map((v) => v.field).sort();
  assert.deepEqual(fields, ['engine_number', 'vin']);
});

test('GetVehicleProfile by plate merges every service', async () => {
  const r = await call(aggregator, 'GetVehicleProfile', { plate: '粤B12345' }, 10);
  const states = Object.fromEntries(r.sources.map((s) => [`${s.source}<${s.via}`, s.state]));
  for (const key of ['plate-service<', 'vin-service<', 'xiaoshibao<plate-service', 'connapi<vin-service']) {
    assert.equal(states[key], 'SOURCE_STATE_OK', `${key}: ${JSON.stringify(states)}`);
  }
  assert.equal(r.complete, true);
  assert.equal(r.profile.issuing_authority.city, '深圳市');
  assert.equal(r.profile.vin.value.length, 17);
  assert.ok(r.profile.vin.value.includes('*'), 'masked for this caller');
  assert.equal(r.profile.brand.provenance.source, 'connapi');
  // Paid once; when the aggregator answered this plate before (the Python client runs
  // first against the same suite), from its cache and free.
  const vinService = r.sources.find((s) => s.source === 'vin-service' && s.via === '');
  if (vinService.from_cache) {
    assert.deepEqual(r.paid_calls, []);
  } else {
    assert.deepEqual(r.paid_calls.map((c) => `${c.source}<${c.via}`), ['connapi<vin-service']);
  }
});

test('GetVehicleProfile refuses a malformed VIN with a field violation', async () => {
  const err = await callError(aggregator, 'GetVehicleProfile', { vin: 'LNBSCC3H9GF308384' });
  assert.equal(err.code, grpc.status.INVALID_ARGUMENT);
  const d = details(err);
  assert.ok(d.BadRequest.field_violations.length > 0);
  assert.equal(d.ErrorInfo.domain, DOMAIN);
});

test('StreamVehicleProfile streams snapshots and ends with the final one', async () => {
  const stream = aggregator.StreamVehicleProfile(
    { request: { vin: VALID_VIN } },
    deadline(10),
  );
  const messages = [];
  for await (const m of stream) messages.push(m);
  assert.ok(messages.length >= 2, `${messages.length} messages`);
  assert.ok(messages.slice(0, -1).every((m) => !m.final));
  const last = messages[messages.length - 1];
  assert.equal(last.final, true);
  assert.equal(last.snapshot.complete, true);
  assert.equal(last.snapshot.profile.country.value, 'DE');
});

// Requests `vendor` has received so far, counted on arrival (before any delay).
async function arrived(vendor) {
  const r = await fetch(`http://${suite.sandbox}/_sandbox/calls`);
  assert.equal(r.status, 200);
  return ((await r.json()).arrived ?? {})[vendor] ?? 0;
}

async function faults(rules) {
  const r = await fetch(`http://${suite.sandbox}/_sandbox/faults`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(rules),
  });
  assert.equal(r.status, 200);
}

// The engine's own synthetic 行驶证 front and its ground truth (crates/ocr-engine).
const OCR_DATA = path.resolve(__dirname, '../../../crates/ocr-engine/tests/data');

test('RecognizeVehicleLicense reads a front, VIN masked', async () => {
  const truth = JSON.parse(fs.readFileSync(path.join(OCR_DATA, 'truth.jsonl'), 'utf8').split('\n')[0]);
  const r = await call(
    ocr,
    'RecognizeVehicleLicense',
    { image: fs.readFileSync(path.join(OCR_DATA, 'front.jpg')) },
    60,
  );
  assert.equal(r.side, 'LICENSE_SIDE_FRONT');
  assert.equal(r.front.plate.value, truth.fields.plate);
  const v = r.front.vin.value;
  assert.equal(v.length, 17);
  assert.equal(v.slice(0, 3) + v.slice(-4), truth.fields.vin.slice(0, 3) + truth.fields.vin.slice(-4));
  assert.ok(v.includes('*'), `an ordinary caller sees the VIN masked: ${v}`);
});

test('RecognizeVehicleLicense refuses what is not an image, naming the field', async () => {
  const err = await callError(ocr, 'RecognizeVehicleLicense', {
    image: Buffer.from('%PDF-1.7 not a photo'),
  });
  assert.equal(err.code, grpc.status.INVALID_ARGUMENT);
  const d = details(err);
  assert.deepEqual(
    d.BadRequest.field_violations.map((v) => [v.field, v.reason]),
    [['image', 'IMAGE_FORMAT']],
  );
});
