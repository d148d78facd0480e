// The application's hooks with tus-js-client (its Node build), unmodified,
// against chunkup-local started as `make run ARGS="-pre-create-to=…
// -on-complete-to=…"` starts it: the functions' binaries under the Lambda
// Runtime Interface Emulator invoke the local hook functions, which
// forward each event to this test's HTTP handler. A pre-create hook that
// refuses fails the upload with the hook's status and message; one that
// sets a key prefix puts the object under it; the on-complete hook's
// answer reaches onSuccess in the finishing answer's Chunkup-App header.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { createServer } from 'node:http';
import tusClient from 'tus-js-client';
import { MiB, readObject, startChunkup, within } from './lib/harness.mjs';

const { Upload } = tusClient;

// startApp serves the application's two hooks on a free port: pre-create
// refuses files named refused.bin and puts the others under
// users/<owner>/; on-complete answers with an id of its own for the
// upload. It keeps every event.
async function startApp() {
  const events = [];
  const srv = createServer(async (req, res) => {
    let body = '';
    for await (const chunk of req) body += chunk;
    const ev = JSON.parse(body);
    events.push(ev);
    let answer = {};
    if (req.url === '/pre-create' && ev.name === 'refused.bin') {
      answer = { refuse: { status: 403, message: 'refused.bin is not welcome here' } };
    } else if (req.url === '/pre-create') {
      answer = { keyPrefix: `users/${ev.owner}/`, metadata: { tenant: 'acme' } };
    } else if (req.url === '/on-complete') {
      answer = { photoId: `photo-${ev.id}`, size: ev.size };
    }
    res.writeHead(200, { 'Content-Type': 'application/json' }).end(JSON.stringify(answer));
  });
  await new Promise((resolve) => srv.listen(0, '127.0.0.1', resolve));
  return { base: `http://127.0.0.1:${srv.address().port}`, events, stop: () => new Promise((r) => srv.close(r)) };
}

// run starts upload and settles with onSuccess's payload, or fails with
// onError's error.
function run(upload) {
  return new Promise((resolve, reject) => {
    upload.options.onSuccess = resolve;
    upload.options.onError = reject;
    upload.start();
  });
}

describe('tus-js-client with the application\'s hooks', () => {
  let chunkup, app;

  before(async () => {
    app = await startApp();
    chunkup = await startChunkup(['-pre-create-to', app.base + '/pre-create', '-on-complete-to', app.base + '/on-complete']);
  });

  after(async () => {
    await chunkup?.stop();
    await app?.stop();
  });

  test('on-complete\'s answer reaches onSuccess; the object lands under pre-create\'s prefix', async () => {
    const data = randomBytes(5 * MiB + 123);
    const upload = new Upload(data, {
      endpoint: chunkup.base + '/files', chunkSize: 2 * MiB, retryDelays: [0, 200, 500],
      metadata: { filename: 'photo.jpg', filetype: 'image/jpeg' },
    });
    const { lastResponse } = await within(60_000, 'the upload', run(upload));
    const id = upload.url.slice(upload.url.lastIndexOf('/') + 1);
    const header = lastResponse.getHeader('Chunkup-App');
    assert.ok(header, 'the finishing answer carries Chunkup-App');
    assert.deepEqual(JSON.parse(Buffer.from(header, 'base64').toString()), { photoId: `photo-${id}`, size: data.length });

    const key = lastResponse.getHeader('Chunkup-Object-Key');
    assert.equal(key, `users/anonymous/${id}/photo.jpg`, 'the object is under the prefix the hook set');
    const object = await readObject(chunkup.base, key);
    assert.equal(object.sha256, createHash('sha256').update(data).digest('hex'), 'the S3 object is byte-identical to the file');

    const told = app.events.filter((ev) => ev.hook === 'on-complete' && ev.id === id);
    assert.equal(told.length, 1, 'the on-complete hook was told once');
    assert.equal(told[0].key, key);
    assert.equal(told[0].metadata.tenant, 'acme', 'the hook\'s metadata is the upload\'s');
    const asked = app.events.find((ev) => ev.hook === 'pre-create' && ev.name === 'photo.jpg');
    assert.equal(asked.dialect, 'tus');
    assert.equal(asked.size, data.length);
  });

  test('a pre-create refusal fails the upload with the hook\'s status and message', async () => {
    const upload = new Upload(randomBytes(1000), {
      endpoint: chunkup.base + '/files', chunkSize: MiB, retryDelays: [0, 200, 500],
      metadata: { filename: 'refused.bin' },
    });
    const err = await within(30_000, 'the refused upload', run(upload).then(
      () => assert.fail('the refused upload succeeded'),
      (e) => e,
    ));
    assert.equal(err.originalResponse?.getStatus(), 403, `status: ${err}`);
    assert.match(err.originalResponse.getBody(), /refused\.bin is not welcome here/);
    assert.equal(upload.url, null, 'no upload was created');
  });
});
