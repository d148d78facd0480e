// Resumable.js, unmodified, in headless Chromium, on a page of another
// origin, against chunkup-local's /resumable: a 17 MiB random file in
// 1 MiB chunks, three at a time, with testChunks on. The S3 object must be
// byte-identical; the requests are counted; and one upload is cut short by
// a page reload and resumed without re-sending the chunks already stored.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  MiB, browserSuite, randomFile, range, readObject, recordRequests, within,
} from './lib/harness.mjs';

const SIZE = 17 * MiB;
const CHUNKS = 17; // floor(17 MiB / 1 MiB): Resumable.js's own count

describe('Resumable.js in Chromium', () => {
  let chunkup, pages, browser, dir;

  browserSuite((s) => ({ chunkup, pages, browser, dir } = s));

  async function checkObject(result, file) {
    assert.equal(result.sha256, file.sha256, 'the page read the file the test wrote');
    const answers = result.answers.map((a) => { try { return JSON.parse(a); } catch { return null; } });
    const complete = answers.filter((a) => a && a.state === 'complete');
    assert.ok(complete.length >= 1, `some chunk's answer completes the upload; answers: ${result.answers.join(' | ')}`);
    const answer = complete[0];
    assert.match(answer.key, /^uploads\/[0-9a-f]+\/random-[0-9a-f]+\.bin$/);
    assert.equal(answer.size, SIZE);
    const object = await readObject(chunkup.base, answer.key);
    assert.equal(object.size, SIZE, 'object size');
    assert.equal(object.sha256, file.sha256, 'the S3 object is byte-identical to the file');
    assert.equal(object.crc64nvme, answer.crc64nvme, 'the CRC64NVME in the answer is the one S3 stored');
    return answer;
  }

  test('uploads a 17 MiB file in 1 MiB chunks, three at a time, each chunk sent once', async () => {
    const file = await randomFile(dir, SIZE);
    const page = await browser.newPage();
    const phase = { current: 1 };
    const log = recordRequests(page, chunkup.base + '/resumable', 'resumableChunkNumber', phase);
    const started = Date.now();
    await page.goto(pages.base + '/resumable.html');
    await page.setInputFiles('#pick', file.path);
    const result = await within(120_000, 'Resumable.js upload', page.evaluate(() => window.finished));
    const seconds = (Date.now() - started) / 1000;
    await page.close();

    assert.equal(result.chunks, CHUNKS);
    await checkObject(result, file);

    const gets = log.filter((e) => e.method === 'GET');
    const posts = log.filter((e) => e.method === 'POST');
    // A new file: every test GET says "not here" (204), then every chunk
    // is posted exactly once and accepted.
    assert.deepEqual(gets.map((e) => e.chunk).sort((a, b) => a - b), range(1, CHUNKS), 'one test GET per chunk');
    assert.ok(gets.every((e) => e.status === 204), `test GETs answer 204: ${gets.map((e) => e.status)}`);
    assert.deepEqual(posts.map((e) => e.chunk).sort((a, b) => a - b), range(1, CHUNKS), 'one POST per chunk');
    assert.ok(posts.every((e) => e.status === 200), `POSTs answer 200: ${posts.map((e) => e.status)}`);
    console.log(`# resumable: ${SIZE / MiB} MiB in ${seconds.toFixed(1)} s, ${gets.length} GET + ${posts.length} POST`);
  });

  test('a reload at about 40% and the same file picked again: stored chunks are not sent again', async () => {
    const file = await randomFile(dir, SIZE);
    const page = await browser.newPage();
    const phase = { current: 1 };
    const log = recordRequests(page, chunkup.base + '/resumable', 'resumableChunkNumber', phase);

    // Phase 1: upload until at least 7 of 17 chunks are accepted, then reload.
    let reached;
    const enough = new Promise((resolve) => { reached = resolve; });
    page.on('response', () => {
      if (log.filter((e) => e.method === 'POST' && e.status === 200).length >= 7) reached();
    });
    await page.goto(pages.base + '/resumable.html');
    await page.setInputFiles('#pick', file.path);
    await within(120_000, 'the first 7 chunks', enough);
    await page.reload();
    // Let the events of requests the reload cut off arrive.
    await new Promise((r) => setTimeout(r, 200));
    phase.current = 2;

    const first = log.filter((e) => e.phase === 1);
    const accepted = new Set(first.filter((e) => e.method === 'POST' && e.status === 200).map((e) => e.chunk));
    assert.ok(accepted.size >= 7 && accepted.size < CHUNKS, `reloaded part way: ${accepted.size} chunks accepted`);

    // Phase 2: the same file again, on the reloaded page.
    await page.setInputFiles('#pick', file.path);
    const result = await within(120_000, 'the resumed upload', page.evaluate(() => window.finished));
    await page.close();
    await checkObject(result, file);

    const second = log.filter((e) => e.phase === 2);
    const tests = new Map(second.filter((e) => e.method === 'GET').map((e) => [e.chunk, e.status]));
    const resent = second.filter((e) => e.method === 'POST');
    const resentChunks = new Set(resent.map((e) => e.chunk));

    assert.deepEqual([...tests.keys()].sort((a, b) => a - b), range(1, CHUNKS), 'the resumed upload tests every chunk');
    for (const n of accepted) {
      assert.equal(tests.get(n), 200, `chunk ${n} was stored before the reload: its test GET says so`);
      assert.ok(!resentChunks.has(n), `chunk ${n} was stored before the reload and must not be sent again`);
    }
    for (const n of range(1, CHUNKS)) {
      if (tests.get(n) !== 200) {
        assert.equal(tests.get(n), 204, `chunk ${n}: test GET answers 200 or 204`);
        assert.ok(resentChunks.has(n), `chunk ${n} was not stored, so it is sent`);
      }
    }
    assert.ok(resent.every((e) => e.status === 200), `resumed POSTs answer 200: ${resent.map((e) => e.status)}`);
    assert.equal(resent.length, resentChunks.size, 'no chunk is sent twice after the reload');
    assert.ok(resent.length <= CHUNKS - accepted.size);

    const count = (entries, method) => entries.filter((e) => e.method === method).length;
    console.log(`# resume: before reload ${count(first, 'GET')} GET + ${count(first, 'POST')} POST ` +
      `(${accepted.size} accepted, ${first.filter((e) => e.method === 'POST' && e.status !== 200).length} cut off); ` +
      `after reload ${tests.size} GET (${[...tests.values()].filter((s) => s === 200).length} answered 200) + ${resent.length} POST`);
  });
});
