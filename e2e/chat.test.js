// End-to-end test of examples/chat in headless Chromium: two pages join
// the room, talk both ways, a late joiner gets the history, one page
// leaves and the other sees it go. Run it with e2e/run.sh, or
// `node --test chat.test.js` from e2e/ (CHAT_BIN names a prebuilt server;
// without it the test builds one; CHROMIUM names the browser).
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawn, execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, "..");
const artifacts = path.join(root, "artifacts", "e2e");
const WAIT = 10_000; // ms for any one thing to show up on a page

let server; // the chat's child process
let base; // http://127.0.0.1:PORT
let context; // the browser, through a persistent context on a fresh profile
let profile;
const pageErrors = [];
const pages = {};

// startChat runs the chat server on a free loopback port and resolves to
// its URL, read from the first line it prints.
function startChat(bin) {
  return new Promise((resolve, reject) => {
    const child = spawn(bin, ["-addr", "127.0.0.1:0"], { stdio: ["ignore", "pipe", "inherit"] });
    server = child;
    // run.sh kills the server by this PID should the test itself be killed.
    if (process.env.CHAT_PID_FILE) writeFileSync(process.env.CHAT_PID_FILE, String(child.pid));
    const timer = setTimeout(() => reject(new Error("the chat server printed no address in 10s")), 10_000);
    let out = "";
    child.stdout.setEncoding("utf8");
    child.stdout.on("data", (chunk) => {
      out += chunk;
      const m = out.match(/listening on (http:\/\/127\.0\.0\.1:\d+)\//);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]);
      }
    });
    child.on("error", (err) => { clearTimeout(timer); reject(err); });
    child.on("exit", (code, sig) => {
      clearTimeout(timer);
      reject(new Error(`the chat server exited early (${code ?? sig})`));
    });
  });
}

// Should this process end some other way (a signal, a crash), the server
// must not outlive it: kill it by its PID on the way out.
function killChatNow() {
  if (server && server.exitCode === null && server.signalCode === null) {
    try { process.kill(server.pid, "SIGKILL"); } catch { /* already gone */ }
  }
}
process.on("exit", killChatNow);
for (const [sig, n] of [["SIGHUP", 1], ["SIGINT", 2], ["SIGTERM", 15]]) {
  process.once(sig, () => { killChatNow(); process.exit(128 + n); });
}

// stopChat kills the server by its PID: SIGTERM, then SIGKILL after 3s.
async function stopChat() {
  if (!server || server.exitCode !== null || server.signalCode !== null) return;
  const exited = new Promise((resolve) => server.once("exit", resolve));
  process.kill(server.pid, "SIGTERM");
  const timer = setTimeout(() => process.kill(server.pid, "SIGKILL"), 3_000);
  await exited;
  clearTimeout(timer);
  if (process.env.CHAT_PID_FILE) rmSync(process.env.CHAT_PID_FILE, { force: true });
}

async function openAs(name) {
  const page = await context.newPage();
  page.on("pageerror", (err) => pageErrors.push(`${name}: ${err.message}`));
  page.on("console", (msg) => {
    if (msg.type() === "error") pageErrors.push(`${name} console: ${msg.text()}`);
  });
  await page.goto(`${base}/?name=${encodeURIComponent(name)}`);
  await page.locator("#status", { hasText: `connected as ${name}` }).waitFor({ timeout: WAIT });
  pages[name] = page;
  return page;
}

// line waits for an entry of the log with this class and text.
function line(page, cls, text) {
  return page.locator(`#log li.${cls}`, { hasText: text }).waitFor({ timeout: WAIT });
}

async function users(page) {
  return page.locator("#users li").allTextContents();
}

async function say(page, text, how) {
  await page.locator("#text").fill(text);
  if (how === "click") await page.locator("#send").click();
  else await page.locator("#text").press("Enter");
}

before(async () => {
  mkdirSync(artifacts, { recursive: true });
  let bin = process.env.CHAT_BIN;
  if (!bin) {
    bin = path.join(artifacts, "chat");
    execFileSync("go", ["build", "-o", bin, "./examples/chat"], { cwd: root, stdio: "inherit" });
  }
  statSync(bin);
  base = await startChat(bin);
  profile = mkdtempSync(path.join(tmpdir(), "wsmem-e2e-chromium-"));
  // A persistent context is how Playwright takes a --user-data-dir: a
  // fresh one per run. The flags keep Chromium off the network it does
  // not have (it hangs at start-up without them).
  context = await chromium.launchPersistentContext(profile, {
    executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
    headless: true,
    timeout: 30_000,
    viewport: { width: 900, height: 560 },
    args: [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
  });
});

after(async () => {
  try {
    if (context) await context.close();
  } finally {
    await stopChat();
    if (profile) rmSync(profile, { recursive: true, force: true });
  }
});

test("two pages join and see each other", async () => {
  const alice = await openAs("alice");
  await line(alice, "join", "alice joined");
  const bob = await openAs("bob");
  await line(bob, "join", "bob joined");
  await line(alice, "join", "bob joined");
  assert.deepEqual(await users(alice), ["alice (you)", "bob"]);
  assert.deepEqual(await users(bob), ["alice", "bob (you)"]);
});

test("messages reach both pages, both ways", async () => {
  const { alice, bob } = pages;
  await say(alice, "hello bob <b>from</b> alice", "enter");
  await line(bob, "message", "alice: hello bob <b>from</b> alice");
  await line(alice, "message", "alice: hello bob <b>from</b> alice");
  await say(bob, "hi alice — ünïcödé ✓", "click");
  await line(alice, "message", "bob: hi alice — ünïcödé ✓");
  await line(bob, "message", "bob: hi alice — ünïcödé ✓");
  // Markup in a message is shown as text, never parsed.
  assert.equal(await alice.locator("#log li.message b").count(), 2); // the two senders' names only
  assert.equal(await alice.locator("#text").inputValue(), "");
});

test("a late joiner gets the history", async () => {
  const carol = await openAs("carol");
  await line(carol, "history", "alice: hello bob <b>from</b> alice");
  await line(carol, "history", "bob: hi alice — ünïcödé ✓");
  await line(pages.alice, "join", "carol joined");
  assert.deepEqual(await users(carol), ["alice", "bob", "carol (you)"]);
});

test("a page that leaves is announced to the others", async () => {
  const { alice, bob } = pages;
  await bob.screenshot({ path: path.join(artifacts, "chat-bob.png") });
  await bob.close(); // the browser closes its WebSocket (1001 going away)
  await line(alice, "leave", "bob left");
  await line(pages.carol, "leave", "bob left");
  assert.deepEqual(await users(alice), ["alice (you)", "carol"]);
  // The room still works for those who stayed.
  await say(pages.carol, "bye bob", "enter");
  await line(alice, "message", "carol: bye bob");
  const shot = path.join(artifacts, "chat.png");
  await alice.screenshot({ path: shot });
  assert.ok(statSync(shot).size > 5_000, "the screenshot is suspiciously small");
  console.log(`screenshot: ${path.relative(root, shot)}`);
});

test("the Leave button closes with 1000 and the server answers", async () => {
  const carol = pages.carol;
  await carol.locator("#leave").click();
  await carol.locator("#status", { hasText: "disconnected (1000" }).waitFor({ timeout: WAIT });
  await line(pages.alice, "leave", "carol left");
  assert.deepEqual(await users(pages.alice), ["alice (you)"]);
});

test("no errors on the pages", () => {
  assert.deepEqual(pageErrors, []);
});
