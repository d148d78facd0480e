// jQuery-File-Upload (blueimp, the basic plugin), unmodified, in headless
// Chromium, on a page of another origin, against chunkup-local's
// /fileupload with its chunked mode on: a 17 MiB random file in 1 MiB
// chunks sent one after another, each with a Content-Range header (which
// makes every chunk a CORS preflighted request). The S3 object must be
// byte-identical. Skipped while the API has no /fileupload route.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { rm } from 'node:fs/promises';
import {
  MiB, launchBrowser, randomFile, range, readObject, recordRequests, routeMissing, startChunkup, startPages, tempDir, within,
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

  test('uploads a 17 MiB file in 1 MiB chunks with Content-Range', async (t) => {
    if (missing) {
      t.skip('POST /fileupload answers the gateway\'s 404: the jQuery-File-Upload route is not in template.yaml yet');
      return;
    }
    const file = await randomFile(dir, SIZE);
    const page = await browser.newPage();
    const log = recordRequests(page, chunkup.base + '/fileupload', 'none', { current: 1 });
    const ranges = [];
    page.on('request', (req) => {
      if (req.url() === chunkup.base + '/fileupload' && req.method() !== 'OPTIONS') ranges.push(req.headers()['content-range']);
    });
    const started = Date.now();
    await page.goto(pages.base + '/fileupload.html');
    await page.setInputFiles('#pick', file.path);
    const result = await within(120_000, 'jQuery-File-Upload upload', page.evaluate(() => window.finished));
    const seconds = (Date.now() - started) / 1000;
    await page.close();

    assert.equal(result.sha256, file.sha256, 'the page read the file the test wrote');
    const sent = log.filter((e) => e.method !== 'OPTIONS');
    assert.equal(sent.length, CHUNKS, `one request per chunk: ${sent.map((e) => e.method + ' ' + e.status)}`);
    assert.ok(sent.every((e) => e.status === 200), `chunks answer 200: ${sent.map((e) => e.status)}`);
    assert.deepEqual(ranges, range(0, CHUNKS - 1).map((i) => `bytes ${i * MiB}-${(i + 1) * MiB - 1}/${SIZE}`),
      'chunks go in order, each with its Content-Range');

    const key = findKey(result.answer);
    assert.ok(key, `the last chunk's answer names the object: ${JSON.stringify(result.answer)}`);
    const object = await readObject(chunkup.base, key);
    assert.equal(object.size, SIZE, 'object size');
    assert.equal(object.sha256, file.sha256, 'the S3 object is byte-identical to the file');
    console.log(`# fileupload: ${SIZE / MiB} MiB in ${seconds.toFixed(1)} s, ${sent.length} requests`);
  });
});

// findKey returns the first string property named "key" in an answer,
// wherever the dialect put it (top level or in its files list).
function findKey(value) {
  if (value === null || typeof value !== 'object') return null;
  if (typeof value.key === 'string') return value.key;
  for (const v of Object.values(value)) {
    const k = findKey(v);
    if (k) return k;
  }
  return null;
}
