// The demo page that `make run` serves at /: Resumable.js from /vendor/,
// a row per file with a progress bar, pause and resume, and the finished
// object's key, size and CRC64NVME; beside it Uppy (bundled under
// /vendor/uppy/) sending files straight to S3. Screenshots go to
// .local/screenshots/.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { rm } from 'node:fs/promises';
import {
  MiB, launchBrowser, randomFile, readObject, recordRequests, screenshotPath, startChunkup, tempDir, within,
} from './lib/harness.mjs';

describe('demo page', () => {
  let chunkup, browser, dir;

  before(async () => {
    chunkup = await startChunkup();
    browser = await launchBrowser();
    dir = await tempDir();
  });

  after(async () => {
    await browser?.close();
    await chunkup?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  // row returns the list item of the file named name.
  // (the newest, if the file was picked more than once).
  const row = (page, name) => page.locator('li.file', { has: page.locator('.name', { hasText: name }) }).first();

  // checkRow compares what a finished row shows with the object in S3.
  async function checkRow(page, file) {
    const item = row(page, file.name);
    await within(60_000, `${file.name} to finish`, item.and(page.locator('.done')).waitFor());
    const key = await item.locator('.key').innerText();
    assert.match(key, new RegExp(`^uploads/[0-9a-f]+/${file.name.replace('.', '\\.')}$`));
    const object = await readObject(chunkup.base, key);
    assert.equal(object.sha256, file.sha256, `${file.name}: the S3 object is byte-identical`);
    assert.equal(await item.locator('.crc').innerText(), object.crc64nvme, `${file.name}: the page shows the CRC64NVME S3 stored`);
    assert.match(await item.locator('.stored-size').innerText(), new RegExp(`\\(${file.size.toLocaleString('en')} bytes\\)`));
    assert.equal(await item.locator('progress').evaluate((p) => p.value), 1);
    assert.equal(await item.locator('button.toggle').isVisible(), false, 'no pause button on a finished file');
    assert.equal(await item.locator('a').getAttribute('href'), '/_local/objects/' + key.split('/').map(encodeURIComponent).join('/'));
  }

  test('uploads picked files, pauses and resumes one, shows key, size and CRC64NVME', async () => {
    const page = await browser.newPage({ viewport: { width: 900, height: 760 } });
    const errors = [];
    page.on('pageerror', (e) => errors.push(e.message));
    page.on('console', (m) => { if (m.type() === 'error') errors.push(m.text()); });
    const log = recordRequests(page, chunkup.base + '/resumable', 'resumableChunkNumber', { current: 1 });

    await page.goto(chunkup.base + '/');
    assert.equal(await page.title(), 'chunkup — upload demo');

    // Two files at once, through the file input.
    const small = await randomFile(dir, 300 * 1024 + 17);
    const medium = await randomFile(dir, 6 * MiB + 5);
    await page.setInputFiles('#pick', [small.path, medium.path]);
    await checkRow(page, small);
    await checkRow(page, medium);

    // A larger one, paused once a few chunks are in.
    const large = await randomFile(dir, 16 * MiB);
    const posts = () => log.filter((e) => e.method === 'POST' && e.chunk !== null && e.status === 200);
    const before = posts().length;
    await page.setInputFiles('#pick', large.path);
    const item = row(page, large.name);
    await within(60_000, 'a few chunks of the large file', (async () => {
      while (posts().length < before + 4) await page.waitForTimeout(20);
    })());
    await item.locator('button.toggle', { hasText: 'Pause' }).click();
    await item.locator('.status', { hasText: /^Paused at \d+%/ }).waitFor();
    await page.waitForTimeout(300); // let requests cut off by the pause settle
    const sentAtPause = log.length;
    await page.waitForTimeout(1000);
    assert.equal(log.length, sentAtPause, 'nothing is sent while the file is paused');
    const pausedAt = await item.locator('progress').evaluate((p) => p.value);
    assert.ok(pausedAt > 0 && pausedAt < 1, `paused part way: ${pausedAt}`);
    assert.equal(await item.locator('.result').isVisible(), false, 'no result before the file is complete');
    await page.screenshot({ path: await screenshotPath('demo-paused.png') });

    await item.locator('button.toggle', { hasText: 'Resume' }).click();
    await checkRow(page, large);

    // The small file again: every chunk is already stored, so nothing is
    // posted, and the row says so (or, should the test GET ever carry the
    // finished upload, shows the same object).
    const postsBefore = log.filter((e) => e.method === 'POST').length;
    const firstKey = await page.locator('li.file.done', { has: page.locator('.name', { hasText: small.name }) }).locator('.key').innerText();
    await page.setInputFiles('#pick', small.path);
    const doneRows = page.locator('li.file.done', { has: page.locator('.name', { hasText: small.name }) });
    await within(60_000, 'the second pick', (async () => {
      while (await doneRows.count() < 2) await page.waitForTimeout(20);
    })());
    const again = row(page, small.name);
    const status = await again.locator('.status').innerText();
    if (status === 'Complete.') {
      assert.equal(await again.locator('.key').innerText(), firstKey);
    } else {
      assert.equal(status, 'Every chunk was already stored: this file was uploaded before.');
    }
    assert.equal(log.filter((e) => e.method === 'POST').length, postsBefore, 'a finished file is not sent again');

    await page.screenshot({ path: await screenshotPath('demo.png'), fullPage: true });

    assert.deepEqual(errors, [], 'no errors on the page');
    await page.close();
  });

  test('Uppy beside it sends a file straight to S3: no byte through chunkup, the row shows what S3 holds', async () => {
    const page = await browser.newPage({ viewport: { width: 900, height: 760 } });
    const errors = [];
    page.on('pageerror', (e) => errors.push(e.message));
    page.on('console', (m) => { if (m.type() === 'error') errors.push(m.text()); });
    // Every request with a body: to chunkup (the signer) or to S3 (any other origin).
    const sent = [];
    page.on('request', (req) => {
      const url = new URL(req.url());
      if (req.method() === 'PUT' || req.method() === 'POST') {
        sent.push({ method: req.method(), origin: url.origin, path: url.pathname, bytes: req.postDataBuffer()?.length ?? 0 });
      }
    });
    await page.goto(chunkup.base + '/');
    const file = await randomFile(dir, 19 * MiB + 7);
    await page.setInputFiles('#pick-direct', file.path);
    const item = page.locator('#direct-files li.file', { has: page.locator('.name', { hasText: file.name }) }).first();
    await within(90_000, `${file.name} to reach S3`, item.and(page.locator('.done')).waitFor());

    const key = await item.locator('.key').innerText();
    assert.match(key, new RegExp(`^uploads/[0-9a-f]{32}/${file.name.replace('.', '\\.')}$`));
    const object = await readObject(chunkup.base, key);
    assert.equal(object.sha256, file.sha256, 'the S3 object is byte-identical');
    assert.equal(await item.locator('.crc').innerText(), object.crc64nvme, 'the row shows the CRC64NVME S3 stored');
    const parts = sent.filter((e) => e.method === 'PUT' && e.origin !== chunkup.base);
    assert.equal(parts.length, 3, 'three 8 MiB parts (the last shorter) PUT straight to S3');
    const throughChunkup = sent.filter((e) => e.origin === chunkup.base).reduce((n, e) => n + e.bytes, 0);
    assert.ok(throughChunkup < 64 * 1024, `${throughChunkup} bytes went to chunkup: only the signer's JSON`);
    await page.screenshot({ path: await screenshotPath('demo-direct.png'), fullPage: true });
    assert.deepEqual(errors, [], 'no errors on the page');
    await page.close();
  });
});
