// Uppy (@uppy/core + @uppy/aws-s3, pinned) in headless Chromium, with
// companionEndpoint at chunkup-local: a 40 MiB random file goes part by
// part from the page straight to the local S3 server (versitygw), with
// URLs chunkup signs; the object must be byte-identical and the session
// complete. A small file goes in one POST form (/s3/params). A run paused
// mid-file and resumed lists the parts S3 holds and sends no finished
// part again.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  MiB, browserSuite, randomFile, readObject, vendoredUppy, within,
} from './lib/harness.mjs';

describe('Uppy AwsS3 (Companion routes) in Chromium', () => {
  let chunkup, pages, browser, dir;

  browserSuite((s) => ({ chunkup, pages, browser, dir } = s), [], async () => ({ 'uppy.js': await vendoredUppy() }));

  // watch records the page's requests: those to chunkup's /s3 routes, and
  // the part PUTs and form POSTs that go to S3 (any other origin).
  function watch(page) {
    const log = { signer: [], s3: [] };
    const entries = new Map();
    page.on('request', (req) => {
      const url = new URL(req.url());
      let entry;
      if (url.origin === chunkup.base && url.pathname.startsWith('/s3/')) {
        entry = { method: req.method(), path: url.pathname, status: null };
        log.signer.push(entry);
      } else if (url.origin !== pages.base && url.origin !== chunkup.base && req.method() !== 'OPTIONS') {
        entry = { method: req.method(), origin: url.origin, part: Number(url.searchParams.get('partNumber') || 0), status: null };
        log.s3.push(entry);
      }
      if (entry) entries.set(req, entry);
    });
    page.on('response', async (res) => {
      const e = entries.get(res.request());
      if (!e) return;
      e.status = res.status();
      if (e.path === '/s3/params') e.body = await res.json().catch(() => null);
    });
    page.on('requestfailed', (req) => {
      const e = entries.get(req);
      if (e && e.status === null) e.status = 'failed';
    });
    return log;
  }

  async function upload(file, query) {
    const page = await browser.newPage();
    const log = watch(page);
    await page.goto(`${pages.base}/uppy.html${query}`);
    await page.setInputFiles('#pick', file.path);
    const result = await within(180_000, 'Uppy upload', page.evaluate(() => window.finished));
    await page.close();
    assert.equal(result.sha256, file.sha256, 'the page read the file the test wrote');
    return { result, log };
  }

  async function session(id) {
    const res = await fetch(`${chunkup.base}/v1/uploads/${id}`);
    return res.json();
  }

  function uploadIdOf(log) {
    const create = log.signer.find((e) => e.method === 'GET' && /^\/s3\/multipart\/[0-9a-f]{32}\/\d+$/.test(e.path));
    assert.ok(create, `a part was signed: ${JSON.stringify(log.signer)}`);
    return create.path.split('/')[3];
  }

  test('a 40 MiB file in 8 MiB parts, straight to S3, byte-identical and complete', async () => {
    const file = await randomFile(dir, 40 * MiB);
    const started = Date.now();
    const { result, log } = await upload(file, '');
    const seconds = (Date.now() - started) / 1000;

    const puts = log.s3.filter((e) => e.method === 'PUT');
    assert.deepEqual(puts.map((e) => e.part).sort((a, b) => a - b), [1, 2, 3, 4, 5], 'each part PUT once');
    assert.ok(puts.every((e) => e.status === 200), `parts answered 200: ${puts.map((e) => e.status)}`);
    assert.ok(puts.every((e) => e.origin !== chunkup.base), 'the parts went to S3, not through chunkup');
    assert.ok(log.signer.every((e) => e.status === 200), `signer answers: ${JSON.stringify(log.signer)}`);

    const id = uploadIdOf(log);
    const s = await session(id);
    assert.equal(s.state, 'complete');
    assert.equal(s.size, 40 * MiB);
    const object = await readObject(chunkup.base, s.key);
    assert.equal(object.sha256, file.sha256, 'the S3 object is byte-identical to the file');
    assert.equal(object.crc64nvme, s.crc64nvme, 'the session records the CRC64NVME S3 verified');
    assert.ok(result.uploadURL && result.uploadURL.endsWith('/' + s.key), `Uppy was told the object's URL: ${result.uploadURL}`);
    console.log(`# uppy: 40 MiB in ${seconds.toFixed(1)} s, ${puts.length} part PUTs to S3, ${log.signer.length} signer requests`);
  });

  test('paused after two parts and resumed: S3 is asked for its parts, no finished part is sent again', async () => {
    const file = await randomFile(dir, 40 * MiB);
    const { log } = await upload(file, '?pauseAfter=2');
    const lists = log.signer.filter((e) => e.method === 'GET' && /^\/s3\/multipart\/[0-9a-f]{32}$/.test(e.path));
    assert.ok(lists.length >= 1, `Uppy listed the parts on resuming: ${JSON.stringify(log.signer)}`);
    const done = new Map();
    for (const e of log.s3.filter((e) => e.method === 'PUT')) {
      assert.ok(!done.has(e.part), `part ${e.part} was sent again after it was stored`);
      if (e.status === 200) done.set(e.part, true);
    }
    assert.deepEqual([...done.keys()].sort((a, b) => a - b), [1, 2, 3, 4, 5]);
    const s = await session(uploadIdOf(log));
    assert.equal(s.state, 'complete');
    const object = await readObject(chunkup.base, s.key);
    assert.equal(object.sha256, file.sha256);
  });

  test('a small file in one POST form (/s3/params)', async () => {
    const file = await randomFile(dir, 300 * 1024);
    const { log } = await upload(file, '?multipart=0');
    const params = log.signer.filter((e) => e.path === '/s3/params');
    assert.equal(params.length, 1);
    const posts = log.s3.filter((e) => e.method === 'POST');
    assert.equal(posts.length, 1, 'one form POST to S3');
    assert.ok(posts[0].status >= 200 && posts[0].status < 300, `the POST answered ${posts[0].status}`);
    const key = params[0].body?.key;
    assert.match(key ?? '', /^uploads\/[0-9a-f]{32}\/random-[0-9a-f]+\.bin$/, 'the form is for chunkup\'s key');
    const object = await readObject(chunkup.base, key);
    assert.equal(object.sha256, file.sha256, 'the S3 object is byte-identical to the file');
    // The session completes when S3's notification (on AWS) or the sweep
    // finds the object; until then it is open.
    const s = await session(params[0].body.uploadId);
    assert.ok(['open', 'complete'].includes(s.state), `the session: ${JSON.stringify(s)}`);
  });
});
