// Overload (issue 16): chunkup-local with a receive function of two
// invocations at once (-concurrency 2, the unreserved concurrency), so
// that three files sent three chunks at a time want more than it has.
//
// - Without the stage throttle, API Gateway answers the requests Lambda
//   throttles with 500 {"message":"Internal Server Error"}, which
//   Resumable.js and Flow.js treat as permanent: a file fails. A
//   completion sent meanwhile still succeeds, since the complete function
//   has reserved concurrency; with the reservation off
//   (CompleteReservedConcurrency=0) completions are throttled too.
// - With the stage throttle sized by docs/scale.md's rule for that pool
//   (MaxBurst + MaxRequestsPerSecond × a request's duration within the
//   function's concurrency: 1 + 1/s × up to 1 s ≤ 2), the excess is
//   answered 429, which Resumable.js and Flow.js with maxChunkRetries
//   retry: every file completes byte-identical.
// - tus-js-client, three files in three partial uploads each, completes
//   under the same overload with the template's throttle: it retries the
//   500s (see its describe for why not 429s).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import tusClient from 'tus-js-client';
import {
  MiB, browserSuite, randomFile, readObject, startChunkup, within,
} from './lib/harness.mjs';

const POOL = ['-concurrency', '2'];
const NO_ROUTE_THROTTLE = ['-throttle-routes=false'];
const SIZED_THROTTLE = ['-param', 'MaxRequestsPerSecond=1', '-param', 'MaxBurst=1'];
const CHUNK = 256 * 1024;
const SIZE = 5 * CHUNK; // five chunks a file
const INTERNAL_ERROR = '{"message":"Internal Server Error"}';

// statusLog counts the answers the page gets from the API, by status and
// by the function's path, with a 500's body kept for a look.
function statusLog(page, api) {
  const log = { byStatus: {}, internalErrors: 0, bodies: [] };
  page.on('response', async (res) => {
    if (!res.url().startsWith(api + '/')) return;
    const s = res.status();
    log.byStatus[s] = (log.byStatus[s] ?? 0) + 1;
    if (s === 500) {
      const body = await res.text().catch(() => '');
      if (body === INTERNAL_ERROR) log.internalErrors++;
      log.bodies.push(body);
    }
  });
  return log;
}

// uploadThree picks three random files on the overload page for lib and
// returns the page's results, one per file, with the files.
async function uploadThree(browser, pages, api, dir, lib, extra = '') {
  const files = [];
  for (let i = 0; i < 3; i++) files.push(await randomFile(dir, SIZE));
  const page = await browser.newPage();
  const log = statusLog(page, api);
  await page.goto(`${pages.base}/overload.html?lib=${lib}&chunk=${CHUNK}${extra}`);
  await page.setInputFiles('#pick', files.map((f) => f.path));
  const results = await within(180_000, `${lib}: three files`, page.evaluate(() => window.finished));
  await page.waitForTimeout(200); // the last responses' bodies
  await page.close();
  return { files, results, log };
}

// checkAll: every file's upload succeeded, and its S3 object is
// byte-identical to it.
async function checkAll(api, files, results) {
  assert.equal(results.length, files.length);
  for (const f of files) {
    const r = results.find((x) => x.name === f.name);
    assert.ok(r?.ok, `${f.name}: ${r?.message}`);
    assert.equal(r.sha256, f.sha256, 'the page read the file the test wrote');
    const answer = r.answers.map((a) => { try { return JSON.parse(a); } catch { return null; } })
      .find((a) => a && a.state === 'complete');
    assert.ok(answer, `${f.name}: some chunk's answer completes the upload: ${r.answers.join(' | ')}`);
    const object = await readObject(api, answer.key);
    assert.equal(object.size, f.size);
    assert.equal(object.sha256, f.sha256, `${f.name}: the S3 object is byte-identical to the file`);
  }
}

// flood keeps n chunk requests to the receive function going at once
// (4 MiB chunks of one native upload) until stop(), counting the 500s
// Lambda's throttle makes the gateway answer.
function flood(api, id, n) {
  const body = randomBytes(4 * MiB);
  let running = true;
  let throttled = 0;
  let waiters = [];
  const seen = () => {
    const ready = waiters.filter((w) => throttled >= w.count);
    waiters = waiters.filter((w) => throttled < w.count);
    for (const w of ready) w.resolve();
  };
  let next = 0;
  const loops = Array.from({ length: n }, async () => {
    while (running) {
      const chunk = next++ % 50;
      const res = await fetch(`${api}/v1/uploads/${id}/chunks/${chunk}`, { method: 'PUT', body });
      const text = await res.text();
      if (res.status === 500 && text === INTERNAL_ERROR) {
        throttled++;
        seen();
      }
    }
  });
  return {
    throttled: () => throttled,
    // until resolves once count throttled answers have been seen.
    until: (count) => new Promise((resolve) => { waiters.push({ count, resolve }); seen(); }),
    stop: async () => { running = false; await Promise.all(loops); },
  };
}

// retry429 sends a request again while the stage throttle refuses it.
async function retry429(send) {
  for (;;) {
    const res = await send();
    if (res.status !== 429) return res;
    await res.arrayBuffer();
    await new Promise((r) => setTimeout(r, 500));
  }
}

async function createNative(api, name, size, chunkSize) {
  const res = await fetch(api + '/v1/uploads', {
    method: 'POST', headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ name, size, chunkSize }),
  });
  assert.equal(res.status, 201, await res.clone().text());
  return res.json();
}

// completions sends n completions of an upload that misses chunks, one
// after another, while the flood runs: the complete function answers each
// in the native API's shape; a throttled one gets API Gateway's 500.
async function completions(api, id, n) {
  const out = [];
  for (let i = 0; i < n; i++) {
    const res = await fetch(`${api}/v1/uploads/${id}/complete`, { method: 'POST' });
    out.push({ status: res.status, body: await res.text() });
  }
  return out;
}

describe('overload without the stage throttle: Lambda throttles, API Gateway answers 500', () => {
  let chunkup, pages, browser, dir;

  browserSuite((s) => ({ chunkup, pages, browser, dir } = s), [...POOL, ...NO_ROUTE_THROTTLE]);

  test('Resumable.js: the 500s of a throttled function fail a file', async () => {
    const { results, log } = await uploadThree(browser, pages, chunkup.base, dir, 'resumable');
    const failed = results.filter((r) => !r.ok);
    console.log(`# overload, no stage throttle: answers ${JSON.stringify(log.byStatus)}; ${failed.length} of 3 files failed`);
    assert.ok(log.internalErrors >= 1, `some request answered 500 ${INTERNAL_ERROR}: ${JSON.stringify(log.byStatus)} ${log.bodies}`);
    assert.ok(!log.byStatus[429], 'no stage throttle, no 429');
    assert.ok(failed.length >= 1, `at least one file fails on a 500: ${JSON.stringify(results.map((r) => [r.ok, r.message]))}`);
    assert.ok(failed.every((r) => /Internal Server Error/.test(r.message)), `each failure is the 500: ${failed.map((r) => r.message)}`);
  });

  test('a completion while the receive function is saturated succeeds (reserved concurrency)', async () => {
    const data = randomBytes(300 * 1024);
    const small = await createNative(chunkup.base, 'finished.bin', data.length, data.length);
    const put = await fetch(`${chunkup.base}/v1/uploads/${small.id}/chunks/0`, { method: 'PUT', body: data });
    assert.equal(put.status, 200, await put.text());
    const partial = await createNative(chunkup.base, 'partial.bin', 8 * MiB, 4 * MiB);
    const big = await createNative(chunkup.base, 'flood.bin', 200 * MiB, 4 * MiB);

    const f = flood(chunkup.base, big.id, 6);
    await within(60_000, 'the receive function saturated', f.until(3));
    const before = f.throttled();
    const res = await fetch(`${chunkup.base}/v1/uploads/${small.id}/complete`, { method: 'POST' });
    const done = await res.json();
    const tries = await completions(chunkup.base, partial.id, 10);
    await within(60_000, 'still saturated after the completions', f.until(f.throttled() + 3));
    await f.stop();

    assert.equal(res.status, 200, JSON.stringify(done));
    assert.equal(done.state, 'complete');
    const object = await readObject(chunkup.base, done.key);
    assert.equal(object.sha256, createHash('sha256').update(data).digest('hex'), 'the S3 object is byte-identical');
    assert.ok(tries.every((t) => t.body !== INTERNAL_ERROR), `no completion throttled: ${JSON.stringify(tries)}`);
    console.log(`# saturated receive: ${f.throttled()} chunk requests throttled (${before} before the completion); completion 200, 10 more completions answered ${[...new Set(tries.map((t) => t.status))]}`);
  });
});

describe('overload without reserved concurrency for completion', () => {
  let chunkup;

  before(async () => {
    chunkup = await startChunkup([...POOL, ...NO_ROUTE_THROTTLE, '-param', 'CompleteReservedConcurrency=0']);
  });

  after(async () => {
    await chunkup?.stop();
  });

  test('completions share the saturated concurrency and are throttled', async () => {
    const partial = await createNative(chunkup.base, 'partial.bin', 8 * MiB, 4 * MiB);
    const big = await createNative(chunkup.base, 'flood.bin', 200 * MiB, 4 * MiB);
    const f = flood(chunkup.base, big.id, 6);
    await within(60_000, 'the receive function saturated', f.until(3));
    const tries = await completions(chunkup.base, partial.id, 20);
    await f.stop();
    const throttled = tries.filter((t) => t.status === 500 && t.body === INTERNAL_ERROR).length;
    console.log(`# no reservation: ${throttled} of 20 completions throttled during the flood`);
    assert.ok(throttled >= 1, `some completion is throttled: ${JSON.stringify(tries)}`);
  });
});

describe('overload with the stage throttle: 429s, retried, every file completes', () => {
  let chunkup, pages, browser, dir;

  browserSuite((s) => ({ chunkup, pages, browser, dir } = s), [...POOL, ...SIZED_THROTTLE]);

  for (const [lib, extra] of [['resumable', ''], ['flow', '&retries=100']]) {
    test(`${lib}: three files, three chunks at a time each`, async () => {
      const { files, results, log } = await uploadThree(browser, pages, chunkup.base, dir, lib, extra);
      console.log(`# overload, stage throttle, ${lib}: answers ${JSON.stringify(log.byStatus)}`);
      await checkAll(chunkup.base, files, results);
      assert.ok(log.byStatus[429] >= 1, `the stage throttle answered 429: ${JSON.stringify(log.byStatus)}`);
      assert.equal(log.internalErrors, 0, `no function was throttled: ${JSON.stringify(log.byStatus)}`);
    });
  }
});

// tus-js-client retries a 5xx by default (retryDelays) but no 4xx except
// 409 and 423, and a HEAD that fails with anything but 423 makes it start
// the upload again from nothing: a tight stage throttle (the 1 request a
// second above) keeps restarting its uploads. With the template's throttle
// (400 a second, burst 50 per route), far above this load, the overload
// reaches Lambda, whose 500s tus-js-client retries; its HEADs go to the
// complete function, whose reserved concurrency they never exceed.
describe('tus-js-client under the same overload, with the template\'s throttle', () => {
  let chunkup;

  before(async () => {
    chunkup = await startChunkup(POOL);
  });

  after(async () => {
    await chunkup?.stop();
  });

  test('tus-js-client: three files, three partial uploads each, retrying the 500s', async () => {
    const { Upload } = tusClient;
    const statuses = {};
    const count = (s) => { statuses[s] = (statuses[s] ?? 0) + 1; };
    const run = (data, name) => new Promise((resolve, reject) => {
      const up = new Upload(data, {
        endpoint: chunkup.base + '/files', chunkSize: CHUNK, parallelUploads: 3,
        retryDelays: Array(60).fill(500), metadata: { filename: name },
        onAfterResponse: (req, res) => count(res.getStatus()),
        onSuccess: () => resolve(up), onError: reject,
      });
      up.start();
    });
    const datas = [0, 1, 2].map(() => randomBytes(SIZE));
    const ups = await within(180_000, 'three tus uploads', Promise.all(datas.map((d, i) => run(d, `tus-${i}.bin`))));
    console.log(`# overload, template throttle, tus-js-client: answers ${JSON.stringify(statuses)}`);
    for (const [i, up] of ups.entries()) {
      const head = await retry429(() => fetch(up.url, { method: 'HEAD', headers: { 'Tus-Resumable': '1.0.0' } }));
      assert.equal(head.status, 200);
      const object = await readObject(chunkup.base, head.headers.get('chunkup-object-key'));
      assert.equal(object.sha256, createHash('sha256').update(datas[i]).digest('hex'), `tus-${i}.bin is byte-identical`);
    }
    assert.ok(statuses[500] >= 1, `the overload made Lambda throttle some request: ${JSON.stringify(statuses)}`);
  });
});
