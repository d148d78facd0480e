// jQuery-File-Upload (blueimp, the basic plugin), unmodified, in headless
// Chromium, on a page of another origin, against chunkup-local's
// /fileupload with its chunked mode on: a 17 MiB random file in 1 MiB
// chunks sent one after another, each with Content-Range and
// Content-Disposition headers (so each is a CORS preflighted request).
// The S3 object must be byte-identical. A second run cuts the network
// mid-file and resumes with the plugin's documented recipe (ask the
// server for the bytes it has, set uploadedBytes). A third loses the
// answer to the chunk that finishes the file, and the page's retry (the
// README's fail callback) must get the finished file, not start a second
// upload. Skipped while the API has no /fileupload route.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { rm } from 'node:fs/promises';
import {
  MiB, launchBrowser, randomFile, range, readObject, routeMissing, startChunkup, startPages, tempDir, within,
} from './lib/harness.mjs';

const SIZE = 17 * MiB;
const CHUNKS = 17;

describe('jQuery-File-Upload in Chromium', () => {
  let chunkup, pages, browser, dir, missing;

  before(async () => {
    chunkup = await startChunkup();
    missing = await routeMissing(chunkup.base, 'POST', '/fileupload');
    if (missing) return;
    pages = await startPages(chunkup.base);
    browser = await launchBrowser();
    dir = await tempDir();
  });

  after(async () => {
    await browser?.close();
    await pages?.stop();
    await chunkup?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  const skipIfMissing = (t) => {
    if (missing) t.skip('POST /fileupload answers the gateway\'s 404: the jQuery-File-Upload route is not in template.yaml yet');
    return missing;
  };

  // watch logs the page's requests to /fileupload (not the preflights):
  // method, Content-Range, phase, and status ('failed' if cut off).
  function watch(page, phase) {
    const log = [];
    const entries = new Map();
    page.on('request', (req) => {
      if (!req.url().startsWith(chunkup.base + '/fileupload') || req.method() === 'OPTIONS') return;
      const entry = { method: req.method(), range: req.headers()['content-range'] ?? null, phase: phase.current, status: null };
      entries.set(req, entry);
      log.push(entry);
    });
    page.on('response', (res) => {
      const entry = entries.get(res.request());
      if (entry) entry.status = res.status();
    });
    page.on('requestfailed', (req) => {
      const entry = entries.get(req);
      if (entry && entry.status === null) entry.status = 'failed';
    });
    return log;
  }

  // checkObject compares the object the final answer names with the file.
  async function checkObject(result, file) {
    assert.equal(result.sha256, file.sha256, 'the page read the file the test wrote');
    const entry = result.answer?.files?.find((f) => typeof f.key === 'string');
    assert.ok(entry, `the last chunk's answer names the object: ${JSON.stringify(result.answer)}`);
    assert.equal(entry.size, SIZE);
    const object = await readObject(chunkup.base, entry.key);
    assert.equal(object.size, SIZE, 'object size');
    assert.equal(object.sha256, file.sha256, 'the S3 object is byte-identical to the file');
    assert.equal(object.crc64nvme, entry.crc64nvme, 'the CRC64NVME in the answer is the one S3 stored');
  }

  const chunkRange = (start) => `bytes ${start}-${Math.min(start + MiB, SIZE) - 1}/${SIZE}`;

  test('uploads a 17 MiB file in 1 MiB chunks with Content-Range', async (t) => {
    if (skipIfMissing(t)) return;
    const file = await randomFile(dir, SIZE);
    const page = await browser.newPage();
    const log = watch(page, { current: 1 });
    const started = Date.now();
    await page.goto(pages.base + '/fileupload.html');
    await page.setInputFiles('#pick', file.path);
    const result = await within(120_000, 'jQuery-File-Upload upload', page.evaluate(() => window.finished));
    const seconds = (Date.now() - started) / 1000;
    await page.close();

    await checkObject(result, file);
    assert.equal(log.length, CHUNKS, `one request per chunk: ${log.map((e) => `${e.method} ${e.status}`)}`);
    assert.ok(log.every((e) => e.method === 'POST' && e.status === 200), `chunks answer 200: ${log.map((e) => e.status)}`);
    assert.deepEqual(log.map((e) => e.range), range(0, CHUNKS - 1).map((i) => chunkRange(i * MiB)),
      'chunks go in order, each with its Content-Range');
    console.log(`# fileupload: ${SIZE / MiB} MiB in ${seconds.toFixed(1)} s, ${log.length} POST`);
  });

  test('the answer to the last chunk is lost: the retry of that chunk is answered with the finished file', async (t) => {
    if (skipIfMissing(t)) return;
    const size = 3 * MiB + 12345;
    const file = await randomFile(dir, size);
    const last = `bytes ${3 * MiB}-${size - 1}/${size}`;
    const page = await browser.newPage();
    const log = watch(page, { current: 1 });
    // The last chunk reaches chunkup, which finishes the file; the page
    // never gets the answer (the connection is reset).
    let lost = false;
    await page.route((u) => u.href.startsWith(chunkup.base + '/fileupload'), async (route) => {
      const req = route.request();
      if (lost || req.method() !== 'POST' || req.headers()['content-range'] !== last) {
        await route.continue();
        return;
      }
      lost = true;
      const answer = await route.fetch();
      assert.equal(answer.status(), 200, `chunkup finished the file: ${await answer.text()}`);
      assert.ok(JSON.parse(await answer.text()).files[0].key, 'the lost answer named the object');
      await route.abort('connectionreset');
    });
    await page.goto(pages.base + '/fileupload.html?retry');
    await page.setInputFiles('#pick', file.path);
    const result = await within(120_000, 'the upload and its retry', page.evaluate(() => window.finished));
    const retried = await page.evaluate(() => window.retried);
    await page.close();

    assert.ok(lost, 'the last chunk was sent');
    assert.equal(result.sha256, file.sha256, 'the page read the file the test wrote');
    const entry = result.answer?.files?.find((f) => typeof f.key === 'string');
    assert.ok(entry, `the retry's answer names the object: ${JSON.stringify(result.answer)}`);
    const object = await readObject(chunkup.base, entry.key);
    assert.equal(object.sha256, file.sha256, 'the S3 object is byte-identical to the file');
    assert.deepEqual(retried, [{ from: 3 * MiB, status: 0 }], 'one retry, from the bytes the answers acknowledged');
    const ranges = (start) => `bytes ${start}-${Math.min(start + MiB, size) - 1}/${size}`;
    assert.deepEqual(log.map((e) => `${e.method} ${e.range}`),
      [0, 1, 2, 3, 3].map((i) => `POST ${ranges(i * MiB)}`),
      'the retry sends the last chunk again, and nothing from byte 0 (no second upload)');
    assert.deepEqual(log.map((e) => e.status), [200, 200, 200, 'failed', 200]);
  });

  test('a network cut mid-file, then the same file again: the resume recipe carries on from the stored bytes', async (t) => {
    if (skipIfMissing(t)) return;
    const file = await randomFile(dir, SIZE);
    const page = await browser.newPage();
    const phase = { current: 1 };
    const log = watch(page, phase);
    const accepted = () => log.filter((e) => e.phase === 1 && e.method === 'POST' && e.status === 200).length;
    let reached;
    const enough = new Promise((resolve) => { reached = resolve; });
    page.on('response', () => { if (accepted() >= 7) reached(); });

    await page.goto(pages.base + '/fileupload.html?resume');
    await page.setInputFiles('#pick', file.path);
    await within(120_000, 'the first 7 chunks', enough);
    await page.context().setOffline(true);
    const cut = await within(60_000, 'the upload to fail offline', page.evaluate(() => window.finished.then(() => null, (e) => e.message)));
    assert.ok(cut, 'the upload fails while the network is down');
    await page.context().setOffline(false);
    const first = log.filter((e) => e.phase === 1);
    const storedBefore = accepted() * MiB;
    assert.ok(accepted() >= 7 && accepted() < CHUNKS, `cut part way: ${accepted()} chunks accepted`);

    phase.current = 2;
    await page.setInputFiles('#pick', file.path);
    const result = await within(120_000, 'the resumed upload', page.evaluate(() => window.finished));
    const from = await page.evaluate(() => window.resumedFrom);
    await page.close();
    await checkObject(result, file);

    const second = log.filter((e) => e.phase === 2);
    const gets = second.filter((e) => e.method === 'GET');
    const posts = second.filter((e) => e.method === 'POST');
    assert.equal(gets.length, 1, 'one resume GET');
    assert.equal(gets[0].status, 200);
    // The server says what it has: every accepted chunk, and at most the
    // one the cut interrupted, if its bytes got through.
    assert.ok(from >= storedBefore && from <= storedBefore + MiB, `resumed from byte ${from}, ${storedBefore} were accepted`);
    const expected = [];
    for (let start = from; start < SIZE; start += MiB) expected.push(chunkRange(start));
    assert.deepEqual(posts.map((e) => e.range), expected, 'the resumed upload sends only the bytes the server lacks, in order');
    assert.ok(posts.every((e) => e.status === 200), `resumed chunks answer 200: ${posts.map((e) => e.status)}`);

    const failed = first.filter((e) => e.method === 'POST' && e.status !== 200).length;
    console.log(`# fileupload resume: before the cut ${first.filter((e) => e.method === 'GET').length} GET + ` +
      `${first.filter((e) => e.method === 'POST').length} POST (${accepted()} accepted, ${failed} cut off); ` +
      `after: 1 GET (resume from byte ${from}) + ${posts.length} POST`);
  });
});
