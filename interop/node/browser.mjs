// Headless Chromium (Debian's) as a WebSocket client of wsmem, driven by
// interop/external_test.go:
//
//   node browser.mjs SPEC.json http://HOST:PORT/ [CHROMIUM]
//
// Opens the page at the URL (served by wsmem's test server), loads
// browser_page.js into it and runs each scenario there; prints a RESULT line
// per scenario.
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";
import { report } from "./lib.mjs";

const here = path.dirname(fileURLToPath(import.meta.url));
const [specPath, pageURL, executable = "/usr/bin/chromium"] = process.argv.slice(2);
const scenarios = JSON.parse(readFileSync(specPath, "utf8"));
const wsBase = pageURL.replace(/^http/, "ws").replace(/\/$/, "");

const profile = mkdtempSync(path.join(tmpdir(), "wsmem-interop-chromium-"));
let context;
const cleanup = async () => {
  try {
    if (context) await context.close();
  } finally {
    rmSync(profile, { recursive: true, force: true });
  }
};
for (const [sig, n] of [["SIGHUP", 1], ["SIGINT", 2], ["SIGTERM", 15]]) {
  process.once(sig, () => cleanup().finally(() => process.exit(128 + n)));
}

try {
  // The flags keep Chromium off the network it does not have.
  context = await chromium.launchPersistentContext(profile, {
    executablePath: executable,
    headless: true,
    timeout: 30_000,
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
  const page = context.pages()[0] || (await context.newPage());
  page.on("pageerror", (err) => console.error(`page error: ${err.message}`));
  page.on("console", (msg) => console.error(`page console ${msg.type()}: ${msg.text()}`));
  console.error(`browser ${context.browser()?.version() ?? "chromium"}`);
  await page.goto(pageURL);
  await page.addScriptTag({ path: path.join(here, "browser_page.js") });
  for (const sc of scenarios) {
    let res;
    try {
      res = await Promise.race([
        page.evaluate(([s, base]) => window.runScenario(s, base), [sc, wsBase]),
        new Promise((_, reject) => setTimeout(() => reject(new Error("timed out after 60s")), 60_000)),
      ]);
    } catch (err) {
      res = { errors: [`driver error: ${err.message}`], ext: "", close: null };
    }
    report(sc.id, res.errors, res.ext, res.close);
  }
} catch (err) {
  console.error(`browser driver: ${err.stack}`);
  process.exitCode = 1;
} finally {
  await cleanup();
}
