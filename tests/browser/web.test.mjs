// The web page in headless Chromium against a real `video2mp3 serve`: what a person does
// with it, step by step, with a screenshot of each step (VIDEO2MP3_SCREENSHOT_DIR).
import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, before, describe, test } from "node:test";
import { launchBrowser, makeMedia, newPage, probe, screenshot, startServe } from "./harness.mjs";

const LIMIT = 3 * 1024 * 1024;
const EMAIL = "ada@example.com";
const PASSWORD = "correct horse battery";

let serve;
let browser;
let media;
let workDir;

before(async () => {
  workDir = fs.mkdtempSync(path.join(os.tmpdir(), "v2m-browser-media-"));
  media = makeMedia(workDir, LIMIT);
  serve = await startServe({ VIDEO2MP3_MAX_UPLOAD_BYTES: String(LIMIT) });
  serve.addUser(EMAIL, PASSWORD);
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await serve?.stop();
  fs.rmSync(workDir, { recursive: true, force: true });
});

/// Signs in through the form, as a person would: type, Tab, type, Enter.
async function signIn(page, email = EMAIL, password = PASSWORD) {
  await page.goto(serve.url + "/");
  await page.locator("#email").fill(email);
  await page.keyboard.press("Tab");
  await page.keyboard.type(password);
  await page.keyboard.press("Enter");
}

/// The jobs the API lists for the user (what the page should show).
async function apiJobs(token) {
  const response = await fetch(`${serve.url}/jobs?limit=100`,
                               { headers: { Authorization: `Bearer ${token}` } });
  return (await response.json()).jobs;
}

function jobCard(page, filename) {
  return page.locator("#jobs .card", { hasText: filename });
}

/// Browser messages for answers the test provoked on purpose ("Failed to load resource: the
/// server responded with a status of 401") are expected; anything else is a problem.
function unexpected(problems, ...statuses) {
  return problems.filter((problem) => !statuses.some(
    (status) => problem.includes(`status of ${status}`)));
}

describe("the web page", () => {
  test("a wrong password says so on the page, with no browser dialog", async () => {
    const page = await newPage(browser);
    let dialogs = 0;
    page.on("dialog", () => {
      dialogs += 1;
    });
    await signIn(page, EMAIL, "not the password");
    await page.locator("#message").waitFor({ state: "visible" });
    assert.match(await page.locator("#message").textContent(), /Wrong e-mail or password/);
    assert.equal(await page.locator("#workspace").isHidden(), true);
    assert.equal(dialogs, 0);
    assert.equal(await page.evaluate(() => sessionStorage.length), 0);
    await screenshot(page, "wrong-password");
    assert.deepEqual(unexpected(page.problems, 401), []);
    await page.context().close();
  });

  test("an address with letters beyond ASCII signs in like any other", async () => {
    const page = await newPage(browser);
    const email = "zoë.tëst+1@exämple.com";
    serve.addUser(email, PASSWORD);
    await signIn(page, email);
    await page.locator("#workspace").waitFor({ state: "visible" });
    assert.equal(await page.locator("#message").isHidden(), true);
    assert.deepEqual(page.problems, []);
    await page.context().close();
  });

  test("sign in, upload a real video, watch it reach done, download the MP3", async () => {
    const page = await newPage(browser);
    await signIn(page);
    await page.locator("#workspace").waitFor({ state: "visible" });
    assert.equal(await page.locator("#who").textContent(), EMAIL);
    // The token is kept for the tab's session only, never in a cookie.
    assert.ok((await page.evaluate(() => sessionStorage.getItem("video2mp3.token"))).length > 20);
    assert.deepEqual(await page.context().cookies(), []);
    await screenshot(page, "signed-in");

    const filename = path.basename(media.video.file);
    await page.locator("#file-input").setInputFiles(media.video.file);
    const upload = page.locator("#uploads .card", { hasText: filename });
    await upload.waitFor();
    await screenshot(page, "uploading");

    const card = jobCard(page, filename);
    await card.locator(".state-done").waitFor({ timeout: 120000 });
    const text = await card.textContent();
    assert.match(text, /Done/);
    assert.match(text, /MP3 \d/);
    await screenshot(page, "done");

    const [download] = await Promise.all([
      page.waitForEvent("download"),
      card.getByRole("button", { name: /Download the MP3/ }).click(),
    ]);
    assert.equal(download.suggestedFilename(), filename.replace(/\.[^.]+$/, ".mp3"));
    const saved = path.join(workDir, "downloaded.mp3");
    await download.saveAs(saved);
    const mp3 = probe(saved);
    assert.equal(mp3.format, "mp3");
    assert.equal(mp3.codec, "mp3");
    assert.ok(Math.abs(mp3.seconds - media.video.seconds) < 0.6,
              `the MP3 lasts ${mp3.seconds} s, the video's sound ${media.video.seconds} s`);
    assert.deepEqual(page.problems, []);
    await page.context().close();
  });

  test("a file over the limit is refused with the limit in words, and nothing is kept",
       async () => {
    const page = await newPage(browser);
    await signIn(page);
    await page.locator("#limit-hint").filter({ hasText: "Up to 3.0 MB" }).waitFor();
    const token = await page.evaluate(() => sessionStorage.getItem("video2mp3.token"));
    const before = (await apiJobs(token)).length;

    await page.locator("#file-input").setInputFiles(media.large.file);
    const card = page.locator("#uploads .card", { hasText: "too large.mp4" });
    await card.locator(".reason").waitFor();
    assert.match(await card.locator(".reason").textContent(), /too large: the limit is 3\.0 MB/);
    await screenshot(page, "too-large");
    assert.equal((await apiJobs(token)).length, before);
    assert.deepEqual(page.problems, []);
    await page.context().close();
  });

  test("a video without sound ends as a failure a person can read", async () => {
    const page = await newPage(browser);
    await signIn(page);
    await page.locator("#workspace").waitFor({ state: "visible" });
    const filename = path.basename(media.silent.file);
    await page.locator("#file-input").setInputFiles(media.silent.file);
    const card = jobCard(page, filename);
    await card.locator(".state-failed").waitFor({ timeout: 60000 });
    assert.match(await card.locator(".reason").textContent(), /no sound track/);
    assert.equal(await card.getByRole("button", { name: /Download/ }).count(), 0);
    await screenshot(page, "no-audio");
    assert.deepEqual(page.problems, []);
    await page.context().close();
  });

  test("several videos at once, each with its own progress; one can be cancelled", async () => {
    const page = await newPage(browser);
    await signIn(page);
    await page.locator("#workspace").waitFor({ state: "visible" });
    const token = await page.evaluate(() => sessionStorage.getItem("video2mp3.token"));
    const jobsBefore = (await apiJobs(token)).length;

    // A slow connection (200 KiB/s up), so the upload is still running when it is cancelled.
    const cdp = await page.context().newCDPSession(page);
    await cdp.send("Network.emulateNetworkConditions", {
      offline: false, latency: 20, downloadThroughput: -1, uploadThroughput: 200 * 1024,
    });
    await page.locator("#file-input").setInputFiles([media.slow.file, media.video.file]);
    const slow = page.locator("#uploads .card", { hasText: "slow upload.mp4" });
    await slow.locator(".details").filter({ hasText: /\d+(\.\d)? (KB|MB) of .* \(([1-9]\d?)%\)/ })
      .waitFor({ timeout: 30000 });
    const progress = await slow.locator("progress").evaluate((bar) => bar.value);
    assert.ok(progress > 0 && progress < 100, `progress ${progress}`);
    await screenshot(page, "two-uploads");

    await slow.getByRole("button", { name: /Cancel the upload/ }).click();
    await slow.locator(".state-cancelled").waitFor();
    assert.match(await slow.textContent(), /Cancelled/);
    await cdp.send("Network.emulateNetworkConditions", {
      offline: false, latency: 0, downloadThroughput: -1, uploadThroughput: -1,
    });
    // The other upload goes on to a job of its own; the cancelled one leaves none.
    await page.waitForFunction(() => document.querySelectorAll("#uploads .state-uploaded").length === 1,
                               null, { timeout: 60000 });
    await screenshot(page, "cancelled");
    const names = (await apiJobs(token)).map((job) => job.filename);
    assert.equal(names.length, jobsBefore + 1);
    assert.ok(!names.includes("slow upload.mp4"));
    assert.deepEqual(page.problems, []);
    await page.context().close();
  });

  test("the list follows the API, a job can be deleted, and signing out forgets the token",
       async () => {
    const page = await newPage(browser);
    await signIn(page);
    await page.locator("#jobs .card").first().waitFor();
    const token = await page.evaluate(() => sessionStorage.getItem("video2mp3.token"));
    const listed = await apiJobs(token);
    await page.waitForFunction((count) => document.querySelectorAll("#jobs .card").length === count,
                               listed.length);
    const shown = await page.locator("#jobs .card .name").allTextContents();
    assert.deepEqual(shown, listed.map((job) => job.filename));

    const victim = listed.find((job) => job.status === "failed");
    assert.ok(victim, "the no-sound job is listed as failed");
    const prompts = [];
    page.on("dialog", (dialog) => prompts.push(dialog.message()));
    await jobCard(page, victim.filename).getByRole("button", { name: /Delete/ }).focus();
    await page.keyboard.press("Enter");
    await jobCard(page, victim.filename).waitFor({ state: "detached" });
    assert.ok(!(await apiJobs(token)).some((job) => job.job_id === victim.job_id));
    // A failed job has no MP3 to delete, and the prompt does not promise one.
    assert.deepEqual(prompts, [`Delete "${victim.filename}"?`]);
    // Keyboard users keep their place: focus is on a control, not lost to the page.
    assert.match(await page.evaluate(() => document.activeElement.tagName), /^(BUTTON|A|INPUT)$/);

    await page.getByRole("button", { name: "Sign out" }).click();
    await page.locator("#sign-in").waitFor({ state: "visible" });
    assert.equal(await page.evaluate(() => sessionStorage.getItem("video2mp3.token")), null);
    await page.reload();
    assert.equal(await page.locator("#workspace").isHidden(), true);
    await screenshot(page, "signed-out");
    assert.deepEqual(page.problems, []);
    await page.context().close();
  });

  test("an ended session, throttling and an unavailable service each get a clear message",
       async () => {
    const page = await newPage(browser);
    // A token that is no longer valid: the page signs out and says why.
    await page.goto(serve.url + "/");
    await page.evaluate(() => sessionStorage.setItem("video2mp3.token", "expired.token.value"));
    await page.reload();
    await page.locator("#sign-in").waitFor({ state: "visible" });
    assert.match(await page.locator("#message").textContent(), /signed out/);
    await screenshot(page, "session-ended");

    // Five wrong passwords for one account, then 429 with Retry-After.
    serve.addUser("grace@example.com", "another good password");
    for (let attempt = 0; attempt < 5; attempt += 1) {
      await signIn(page, "grace@example.com", "wrong");
      await page.locator("#message", { hasText: "Wrong e-mail" }).waitFor();
    }
    await signIn(page, "grace@example.com", "wrong");
    await page.locator("#message", { hasText: "Too many attempts" }).waitFor();
    assert.match(await page.locator("#message").textContent(),
                 /Wait \d+ (seconds|minutes), then try again/);
    await screenshot(page, "throttled");

    // The service answers 503 (a stand-in answer here: serve has no queue to stop).
    await signIn(page);
    await page.locator("#workspace").waitFor({ state: "visible" });
    await page.route("**/jobs?*", (route) => route.fulfill({
      status: 503, contentType: "application/json",
      body: JSON.stringify({ error: "storage is unavailable" }),
    }));
    await page.locator("#message", { hasText: "busy or restarting" }).waitFor();
    await screenshot(page, "unavailable");
    await page.unroute("**/jobs?*");
    await page.locator("#message").waitFor({ state: "hidden" });

    // A message about the person's own action is theirs to read: the next polls leave it.
    await page.route("**/jobs/*", (route) => (route.request().method() === "DELETE"
      ? route.fulfill({ status: 500, contentType: "application/json",
                        body: JSON.stringify({ error: "the disk is on fire" }) })
      : route.fallback()));
    await page.locator("#jobs .card").first().getByRole("button", { name: /Delete/ }).click();
    await page.locator("#message", { hasText: "the disk is on fire" }).waitFor();
    await page.waitForTimeout(3500);  // more than two polls
    assert.equal(await page.locator("#message", { hasText: "the disk is on fire" }).isVisible(),
                 true);
    await page.unroute("**/jobs/*");
    assert.deepEqual(unexpected(page.problems, 401, 429, 500, 503), []);
    await page.context().close();
  });

  test("on a phone-sized screen nothing is cut off and it works by keyboard", async () => {
    const page = await newPage(browser, { viewport: { width: 360, height: 740 },
                                          deviceScaleFactor: 2, hasTouch: true });
    await page.goto(serve.url + "/");
    // Keyboard only: the e-mail field has focus, Tab reaches the password, Enter submits.
    assert.equal(await page.evaluate(() => document.activeElement.id), "email");
    await page.keyboard.type(EMAIL);
    await page.keyboard.press("Tab");
    await page.keyboard.type(PASSWORD);
    await page.keyboard.press("Enter");
    await page.locator("#jobs .card").first().waitFor();
    assert.equal(await page.evaluate(() => document.activeElement.id), "file-input");
    // Every control can be reached with Tab.
    const reached = new Set();
    for (let step = 0; step < 40; step += 1) {
      await page.keyboard.press("Tab");
      reached.add(await page.evaluate(() => document.activeElement.textContent.trim() ||
                                            document.activeElement.id));
    }
    assert.ok(reached.has("Sign out"));
    assert.ok([...reached].some((label) => label.startsWith("Download MP3")));
    assert.ok([...reached].some((label) => label === "Delete"));
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    assert.ok(overflow <= 0, `the page is ${overflow} px wider than the screen`);
    await screenshot(page, "phone");
    assert.deepEqual(page.problems, []);
    await page.context().close();
  });

  test("/docs renders every operation of the API description", async () => {
    const page = await newPage(browser);
    await page.goto(serve.url + "/docs");
    await page.locator(".operation summary").first().waitFor();
    const spec = await (await fetch(`${serve.url}/openapi.json`)).json();
    const methods = ["get", "post", "put", "patch", "delete"];
    for (const [route, item] of Object.entries(spec.paths)) {
      for (const method of methods.filter((m) => item[m])) {
        const summary = page.locator(`details[id="${method}-${route}"] summary`);
        assert.equal(await summary.count(), 1, `${method.toUpperCase()} ${route} is on /docs`);
        assert.match(await summary.textContent(), new RegExp(method.toUpperCase()));
      }
    }
    await page.locator('details[id="post-/upload"] summary').click();
    assert.match(await page.locator('details[id="post-/upload"]').textContent(), /413/);
    await screenshot(page, "docs");
    assert.deepEqual(page.problems, []);
    await page.context().close();
  });
});
