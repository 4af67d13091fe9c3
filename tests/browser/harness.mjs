// What the browser tests share: a `video2mp3 serve` on a free port and a temporary data
// folder, users made with `video2mp3 user add`, test media, headless Chromium, screenshots.
//
// Environment:
//   VIDEO2MP3_BINARY          the built video2mp3 (ctest sets it; default build/release)
//   VIDEO2MP3_SCREENSHOT_DIR  where the screenshots go (default build/release/screenshots)
//   VIDEO2MP3_MEDIA_DIR       the real-world media (default ../shared/media beside the checkout)
//   VIDEO2MP3_CHROMIUM        the browser (default /usr/bin/chromium)
import { spawn, spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";

const here = path.dirname(fileURLToPath(import.meta.url));
export const sourceDir = path.resolve(here, "../..");
export const binary = process.env.VIDEO2MP3_BINARY ||
  path.join(sourceDir, "build/release/video2mp3");
export const screenshotDir = process.env.VIDEO2MP3_SCREENSHOT_DIR ||
  path.join(sourceDir, "build/release/screenshots");
const mediaDir = process.env.VIDEO2MP3_MEDIA_DIR || path.resolve(sourceDir, "../shared/media");
const chromiumPath = process.env.VIDEO2MP3_CHROMIUM || "/usr/bin/chromium";

/// `video2mp3 serve` in a temporary data folder on a free port, with `env` added.
export async function startServe(env = {}) {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "v2m-browser-"));
  const child = spawn(binary, ["serve", "--data-dir", dataDir, "--listen", "127.0.0.1:0",
                               "--workers", "1"], {
    env: { ...process.env, VIDEO2MP3_LOG_LEVEL: "warn", ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stderr = "";
  child.stderr.on("data", (chunk) => {
    stderr += chunk;
  });
  const url = await new Promise((resolve, reject) => {
    let stdout = "";
    const timer = setTimeout(() => reject(new Error(`serve did not start: ${stderr}`)), 60000);
    child.stdout.on("data", (chunk) => {
      stdout += chunk;
      const match = stdout.match(/listening on (http:\/\/[0-9.:]+)/);
      if (match) {
        clearTimeout(timer);
        resolve(match[1]);
      }
    });
    child.on("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`serve exited ${code}: ${stderr}`));
    });
    child.on("error", (error) => {
      clearTimeout(timer);
      reject(new Error(`cannot run ${binary}: ${error.message}`));
    });
  });
  return {
    url,
    dataDir,
    logs: () => stderr,
    /// Adds a user with `video2mp3 user add` (the password on stdin, as a person types it).
    addUser(email, password) {
      const result = spawnSync(binary, ["user", "add", email, "--data-dir", dataDir],
                               { input: `${password}\n`, encoding: "utf8" });
      if (result.status !== 0) {
        throw new Error(`user add ${email} failed: ${result.stderr}`);
      }
    },
    /// The token for a user, as curl gets it.
    async login(email, password) {
      const response = await fetch(`${url}/login`, {
        method: "POST",
        headers: { Authorization: `Basic ${Buffer.from(`${email}:${password}`).toString("base64")}` },
      });
      if (!response.ok) {
        throw new Error(`login ${email}: ${response.status}`);
      }
      return (await response.text()).trim();
    },
    async stop() {
      if (child.exitCode === null) {
        const exited = new Promise((resolve) => child.on("exit", resolve));
        child.kill("SIGTERM");
        await exited;
      }
      fs.rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

function ffmpeg(args) {
  const result = spawnSync("ffmpeg", ["-nostdin", "-v", "error", "-y", ...args], { encoding: "utf8" });
  if (result.status !== 0) {
    throw new Error(`ffmpeg ${args.join(" ")}: ${result.stderr}`);
  }
}

/// The test videos: a real one with sound and a real one without, from ../shared/media when
/// it is there, else made by ffmpeg; and a file over `limitBytes`. Each: {file, seconds}.
export function makeMedia(dir, limitBytes) {
  const media = {};
  const real = (name) => path.join(mediaDir, name);
  const withSound = "mp4_h264_aac48k_stereo_moov_at_end_audio_shorter_11s.mp4";
  const withoutSound = "mp4_vfr_screen_recording_no_audio_9s.mp4";
  if (fs.existsSync(real(withSound)) && fs.existsSync(real(withoutSound))) {
    media.video = { file: real(withSound), seconds: 9.87 };
    media.silent = { file: real(withoutSound), seconds: 0 };
  } else {
    media.video = { file: path.join(dir, "holiday clip.mp4"), seconds: 6 };
    ffmpeg(["-f", "lavfi", "-i", "testsrc=size=320x240:rate=15:duration=6",
            "-f", "lavfi", "-i", "sine=frequency=440:duration=6",
            "-c:v", "libx264", "-preset", "ultrafast", "-c:a", "aac", "-shortest",
            media.video.file]);
    media.silent = { file: path.join(dir, "screen recording.mp4"), seconds: 0 };
    ffmpeg(["-f", "lavfi", "-i", "testsrc=size=320x240:rate=15:duration=3",
            "-c:v", "libx264", "-preset", "ultrafast", media.silent.file]);
  }
  media.large = { file: path.join(dir, "too large.mp4"), seconds: 0 };
  fs.writeFileSync(media.large.file, Buffer.alloc(limitBytes + 1024, 7));
  // Large enough to cancel while it uploads under a throttled connection.
  media.slow = { file: path.join(dir, "slow upload.mp4"), seconds: 0 };
  fs.writeFileSync(media.slow.file, Buffer.alloc(Math.floor(limitBytes * 0.9), 3));
  return media;
}

/// What ffprobe says of an MP3: {format, codec, seconds}.
export function probe(file) {
  const result = spawnSync("ffprobe", ["-v", "error", "-show_entries",
    "format=format_name,duration:stream=codec_name", "-of", "json", file], { encoding: "utf8" });
  if (result.status !== 0) {
    throw new Error(`ffprobe ${file}: ${result.stderr}`);
  }
  const json = JSON.parse(result.stdout);
  return {
    format: json.format.format_name,
    codec: json.streams[0] && json.streams[0].codec_name,
    seconds: Number(json.format.duration),
  };
}

/// Headless Chromium as this machine allows it (no sandbox as root, no background traffic).
export async function launchBrowser() {
  return chromium.launch({
    executablePath: chromiumPath,
    headless: true,
    args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
           "--disable-background-networking", "--disable-component-update", "--disable-sync",
           "--disable-dev-shm-usage"],
  });
}

/// A new page that records its console errors and uncaught exceptions in `page.problems`.
export async function newPage(browser, options = {}) {
  const context = await browser.newContext({ acceptDownloads: true, ...options });
  const page = await context.newPage();
  page.problems = [];
  page.on("console", (message) => {
    if (message.type() === "error") {
      page.problems.push(`console: ${message.text()}`);
    }
  });
  page.on("pageerror", (error) => page.problems.push(`exception: ${error.message}`));
  page.on("dialog", (dialog) => dialog.accept());
  return page;
}

let shot = 0;
/// Saves a screenshot of the page as NN-name.png in the screenshot folder.
export async function screenshot(page, name) {
  fs.mkdirSync(screenshotDir, { recursive: true });
  shot += 1;
  const file = path.join(screenshotDir, `${String(shot).padStart(2, "0")}-${name}.png`);
  await page.screenshot({ path: file, fullPage: true });
  return file;
}
