// Flow.js, unmodified, in headless Chromium, on a page of another origin,
// against chunkup-local's /flow: a 17 MiB random file in 1 MiB chunks,
// three at a time, with testChunks on. Flow.js retries nothing by default,
// so a single wrong status fails the file. The S3 object must be
// byte-identical and every chunk is sent exactly once.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  MiB, browserSuite, randomFile, range, readObject, recordRequests, within,
} from './lib/harness.mjs';

const SIZE = 17 * MiB;
const CHUNKS = 17;

describe('Flow.js in Chromium', () => {
  let chunkup, pages, browser, dir;

  browserSuite((s) => ({ chunkup, pages, browser, dir } = s));

  test('uploads a 17 MiB file in 1 MiB chunks, three at a time, each chunk sent once', async () => {
    const file = await randomFile(dir, SIZE);
    const page = await browser.newPage();
    const log = recordRequests(page, chunkup.base + '/flow', 'flowChunkNumber', { current: 1 });
    const started = Date.now();
    await page.goto(pages.base + '/flow.html');
    await page.setInputFiles('#pick', file.path);
    const result = await within(120_000, 'Flow.js upload', page.evaluate(() => window.finished));
    const seconds = (Date.now() - started) / 1000;
    const posted = await page.evaluate(() => window.posted);
    await page.close();

    assert.equal(result.chunks, CHUNKS);
    assert.equal(result.sha256, file.sha256, 'the page read the file the test wrote');
    const answers = result.answers.map((a) => { try { return JSON.parse(a); } catch { return null; } });
    const answer = answers.find((a) => a && a.state === 'complete');
    assert.ok(answer, `some chunk's answer completes the upload; answers: ${result.answers.join(' | ')}`);
    assert.match(answer.key, /^uploads\/[0-9a-f]+\/random-[0-9a-f]+\.bin$/);
    assert.equal(answer.size, SIZE);
    const object = await readObject(chunkup.base, answer.key);
    assert.equal(object.size, SIZE, 'object size');
    assert.equal(object.sha256, file.sha256, 'the S3 object is byte-identical to the file');
    assert.equal(object.crc64nvme, answer.crc64nvme, 'the CRC64NVME in the answer is the one S3 stored');

    const gets = log.filter((e) => e.method === 'GET');
    const posts = log.filter((e) => e.method === 'POST');
    assert.deepEqual(gets.map((e) => e.chunk).sort((a, b) => a - b), range(1, CHUNKS), 'one test GET per chunk');
    assert.ok(gets.every((e) => e.status === 204), `test GETs answer 204: ${gets.map((e) => e.status)}`);
    assert.equal(posts.length, CHUNKS, 'as many POSTs as chunks');
    assert.ok(posts.every((e) => e.status === 200), `POSTs answer 200: ${posts.map((e) => e.status)}`);
    // Which chunk each POST carried: from the form, as the page sent it.
    assert.equal(posted.length, posts.length, 'the page saw the POSTs the network did');
    assert.deepEqual(posted.map((p) => Number(p.fields.flowChunkNumber)).sort((a, b) => a - b), range(1, CHUNKS), 'each chunk posted once');
    assert.ok(posted.every((p) => p.fields.flowTotalChunks === String(CHUNKS) && p.status === 200));
    console.log(`# flow: ${SIZE / MiB} MiB in ${seconds.toFixed(1)} s, ${gets.length} GET + ${posts.length} POST`);
  });
});
