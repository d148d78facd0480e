// Uppy's Tus plugin (@uppy/core and @uppy/tus, bundled as an app's build
// would), unmodified, in headless Chromium, on a page of another origin,
// against chunkup-local's /files: a 17 MiB random file in 4 MiB chunks.
// The S3 object must be byte-identical, and every PATCH is taken the
// first time (204).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { rm } from 'node:fs/promises';
import {
  MiB, bundle, launchBrowser, randomFile, readObject, startChunkup, startPages, tempDir, within,
} from './lib/harness.mjs';

const SIZE = 17 * MiB;

describe("Uppy's Tus plugin in Chromium", () => {
  let chunkup, pages, browser, dir;

  before(async () => {
    dir = await tempDir();
    chunkup = await startChunkup();
    pages = await startPages(chunkup.base, { 'uppy-tus.bundle.js': await bundle('uppy-tus.entry.mjs') });
    browser = await launchBrowser();
  });

  after(async () => {
    await browser?.close();
    await pages?.stop();
    await chunkup?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  test('uploads a 17 MiB file in 4 MiB PATCHes, byte-identical', async () => {
    const file = await randomFile(dir, SIZE);
    const page = await browser.newPage();
    const patches = [];
    page.on('response', (res) => {
      if (res.request().method() === 'PATCH') patches.push(res.status());
    });
    await page.goto(pages.base + '/uppy-tus.html');
    await page.setInputFiles('#pick', file.path);
    const result = await within(120_000, 'Uppy upload', page.evaluate(() => window.finished));
    await page.close();

    assert.equal(result.sha256, file.sha256, 'the page read the file the test wrote');
    assert.deepEqual(patches, [204, 204, 204, 204, 204], 'five PATCHes, each taken at once');
    const head = await fetch(result.url, { method: 'HEAD', headers: { 'Tus-Resumable': '1.0.0' } });
    assert.equal(head.status, 200);
    assert.equal(head.headers.get('upload-offset'), String(SIZE));
    const key = head.headers.get('chunkup-object-key');
    assert.match(key ?? '', /^uploads\/[0-9a-f]{32}\/random-[0-9a-f]+\.bin$/, 'the file is named for the file Uppy sent');
    const object = await readObject(chunkup.base, key);
    assert.equal(object.size, SIZE, 'object size');
    assert.equal(object.sha256, file.sha256, 'the S3 object is byte-identical to the file');
    assert.equal(object.crc64nvme, head.headers.get('chunkup-object-crc64nvme'));
  });
});
