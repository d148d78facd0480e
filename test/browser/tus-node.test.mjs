// tus-js-client (its Node build), unmodified, against chunkup-local's
// /files: a 23 MiB random file at 4 MiB chunks interrupted part way and
// resumed by a new Upload that finds the old one through its fingerprint
// (kept in a file, as FileUrlStorage does), sending at most one chunk
// twice; the same file in 3 parallel partial uploads joined into one; the
// first bytes sent with the creation; 1 MiB chunks. Every S3 object is
// byte-identical to its file. tus-js-client fails an upload on most 4xx,
// so one wrong status fails the test.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { rm } from 'node:fs/promises';
import path from 'node:path';
import tusClient from 'tus-js-client';
import { MiB, readObject, startChunkup, tempDir, within } from './lib/harness.mjs';

const { Upload, FileUrlStorage } = tusClient;

// run starts upload and settles when it succeeds or fails.
function run(upload) {
  return new Promise((resolve, reject) => {
    upload.options.onSuccess = () => resolve(upload);
    upload.options.onError = reject;
    upload.start();
  });
}

// patchLog records the offset of every PATCH the client sends and the
// offset each answer gives.
function patchLog() {
  const log = [];
  const byRequest = new Map();
  return {
    log,
    onBeforeRequest(req) {
      if (req.getMethod() !== 'PATCH') return;
      const e = { offset: Number(req.getHeader('Upload-Offset')), answered: null };
      byRequest.set(req, e);
      log.push(e);
    },
    onAfterResponse(req, res) {
      const e = byRequest.get(req);
      if (e) e.answered = res.getStatus();
    },
  };
}

// finished reads where the upload's file went (a HEAD on its URL) and
// checks the object against data.
async function checkObject(url, data) {
  const res = await fetch(url, { method: 'HEAD', headers: { 'Tus-Resumable': '1.0.0' } });
  assert.equal(res.status, 200, `HEAD ${url}`);
  assert.equal(res.headers.get('upload-offset'), String(data.length), 'HEAD shows the whole file');
  const key = res.headers.get('chunkup-object-key');
  assert.ok(key, `HEAD names the object: ${[...res.headers]}`);
  const object = await readObject(new URL(url).origin, key);
  assert.equal(object.size, data.length, 'object size');
  assert.equal(object.sha256, createHash('sha256').update(data).digest('hex'), 'the S3 object is byte-identical to the file');
  assert.equal(object.crc64nvme, res.headers.get('chunkup-object-crc64nvme'), 'the CRC64NVME HEAD gives is the one S3 stored');
  return key;
}

describe('tus-js-client (Node)', () => {
  let chunkup, dir;

  before(async () => {
    chunkup = await startChunkup();
    dir = await tempDir();
  });

  after(async () => {
    await chunkup?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  test('23 MiB at 4 MiB chunks, interrupted, resumed by a new Upload through its fingerprint', async () => {
    const data = randomBytes(23 * MiB);
    const chunkSize = 4 * MiB;
    const urlStorage = new FileUrlStorage(path.join(dir, 'tus-urls.json'));
    const common = { endpoint: chunkup.base + '/files', chunkSize, urlStorage, retryDelays: [0, 200, 500], metadata: { filename: 'resumed.bin', filetype: 'application/octet-stream' } };

    const first = patchLog();
    const interrupted = new Upload(data, { ...common, ...first });
    await within(60_000, 'the first upload', new Promise((resolve, reject) => {
      interrupted.options.onError = reject;
      // Stop in the middle of the third PATCH, as a closed laptop would.
      interrupted.options.onProgress = (sent) => {
        if (sent >= 10 * MiB) {
          interrupted.options.onProgress = null;
          interrupted.abort().then(resolve, reject);
        }
      };
      interrupted.options.onSuccess = () => reject(new Error('the upload finished before it was interrupted'));
      interrupted.start();
    }));
    assert.ok(interrupted.url, 'the first upload was created');

    const second = patchLog();
    const resumed = new Upload(data, { ...common, ...second });
    const previous = await resumed.findPreviousUploads();
    assert.equal(previous.length, 1, 'the fingerprint finds the interrupted upload');
    resumed.resumeFromPreviousUpload(previous[0]);
    await within(60_000, 'the resumed upload', run(resumed));
    assert.equal(resumed.url, interrupted.url, 'the new Upload resumed the old one rather than starting again');

    const stored = first.log.filter((e) => e.answered === 204).length * chunkSize;
    assert.equal(second.log[0].offset, stored, 'the resumed upload starts at the offset the server had');
    const sent = [...first.log, ...second.log].reduce((n, e) => n + Math.min(chunkSize, data.length - e.offset), 0);
    assert.ok(sent - data.length <= chunkSize, `${sent - data.length} bytes sent twice, more than one chunk`);
    assert.ok(second.log.every((e) => e.answered === 204), `every resumed PATCH answered 204: ${JSON.stringify(second.log)}`);
    const key = await checkObject(resumed.url, data);
    assert.match(key, /\/resumed\.bin$/);
    console.log(`# tus-js-client: ${data.length / MiB} MiB, ${(sent - data.length) / MiB} MiB sent twice, resumed at ${stored / MiB} MiB`);
  });

  test('parallelUploads: 3 joins three partial uploads into the file', async () => {
    const data = randomBytes(23 * MiB);
    const log = patchLog();
    const upload = new Upload(data, {
      endpoint: chunkup.base + '/files', chunkSize: 4 * MiB, parallelUploads: 3, retryDelays: [0, 200, 500],
      metadata: { filename: 'parallel.bin' }, ...log,
    });
    await within(60_000, 'the parallel upload', run(upload));
    assert.ok(log.log.every((e) => e.answered === 204), `every PATCH answered 204: ${JSON.stringify(log.log)}`);
    const head = await fetch(upload.url, { method: 'HEAD', headers: { 'Tus-Resumable': '1.0.0' } });
    assert.match(head.headers.get('upload-concat') ?? '', /^final;(\/files\/[0-9a-f]{32} ?){3}$/, 'the upload is the final one of three partials');
    await checkObject(upload.url, data);
  });

  test('uploadDataDuringCreation: true sends the first chunk with the POST', async () => {
    const data = randomBytes(9 * MiB);
    const log = patchLog();
    const upload = new Upload(data, {
      endpoint: chunkup.base + '/files', chunkSize: 4 * MiB, uploadDataDuringCreation: true, retryDelays: [0, 200, 500], ...log,
    });
    await within(60_000, 'the upload', run(upload));
    assert.deepEqual(log.log.map((e) => e.offset), [4 * MiB, 8 * MiB], 'the POST carried the first 4 MiB, two PATCHes the rest');
    await checkObject(upload.url, data);
  });

  test('chunkSize 1 MiB', async () => {
    const data = randomBytes(6 * MiB + 12345);
    const log = patchLog();
    const upload = new Upload(data, { endpoint: chunkup.base + '/files', chunkSize: MiB, retryDelays: [0, 200, 500], ...log });
    await within(60_000, 'the upload', run(upload));
    assert.equal(log.log.length, 7, 'seven PATCHes');
    await checkObject(upload.url, data);
  });
});
