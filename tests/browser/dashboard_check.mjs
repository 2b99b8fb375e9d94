// Drives the ttalloc dashboard in Debian's headless Chromium with playwright-core.
// tests/integration/test_http_browser.py runs it and talks to it line by line:
//
//   node dashboard_check.mjs URL
//   <- {"ready": true, "cards": N}                once the page shows its device cards
//   -> wait-bytes DEVICE KIND BYTES MS            <- {"ok": bool, "ms": elapsed}
//   -> wait-row PID DEVICE MS                     <- {"ok": bool, "ms": elapsed}
//   -> wait-selector MS SELECTOR                  <- {"ok": bool, "ms": elapsed}
//   -> wait-responses URL_PART COUNT MS           <- {"ok": bool, "ms": elapsed}
//      (COUNT more responses to requests whose URL contains URL_PART)
//   -> wait-gone MS SELECTOR                      <- {"ok": bool, "ms": elapsed}  (no element matches any more)
//   -> wait-attr MS NAME VALUE SELECTOR           <- {"ok": bool, "ms": elapsed, "value": last value}
//   -> text SELECTOR                              <- {"text": "..."}
//   -> count SELECTOR                             <- {"n": elements matching}
//   -> attr NAME SELECTOR                         <- {"value": attribute of the first match, or null}
//   -> attrs NAME SELECTOR                        <- {"values": the attribute of every match}
//   -> style PROPERTY SELECTOR                    <- {"value": computed style of the first match}
//   -> click SELECTOR                             <- {"ok": true}
//   -> hover FX FY SELECTOR                       <- {"ok": true}  (the pointer at that fraction of its box)
//   -> key KEY SELECTOR                           <- {"ok": true}  (focuses the element, presses KEY)
//   -> viewport WIDTH HEIGHT                      <- {"ok": true}
//   -> emulate light|dark                         <- {"ok": true}  (prefers-color-scheme)
//   -> layout                                     <- {"scrollWidth": px, "innerWidth": px}
//   -> screenshot PATH                            <- {"ok": true}
//   -> errors                                     <- {"errors": [...console errors and page errors...]}
//   -> quit
//
// Never downloads a browser: it runs /usr/bin/chromium (or $CHROMIUM).
import { chromium } from "playwright-core";
import readline from "node:readline";

const url = process.argv[2];
const executablePath = process.env.CHROMIUM || "/usr/bin/chromium";
const say = (obj) => process.stdout.write(JSON.stringify(obj) + "\n");

const browser = await chromium.launch({
  executablePath,
  headless: true,
  args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-dev-shm-usage"],
});
const errors = [];
try {
  const page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
  page.on("console", (m) => { if (m.type() === "error") errors.push("console: " + m.text()); });
  page.on("pageerror", (e) => errors.push("page: " + e.message));
  page.on("requestfailed", (r) => {
    // an event stream cut by the test's own teardown is not a page error
    if (!r.url().endsWith("/api/events")) errors.push("request failed: " + r.url() + " " + (r.failure() || {}).errorText);
  });
  const resp = await page.goto(url, { waitUntil: "domcontentloaded", timeout: 10000 });
  if (!resp || resp.status() !== 200) throw new Error("dashboard answered " + (resp && resp.status()));
  await page.waitForSelector('[data-testid="device-card-0"]', { timeout: 10000 });
  say({ ready: true, cards: await page.locator('[data-testid^="device-card-"]').count() });

  const rl = readline.createInterface({ input: process.stdin });
  for await (const line of rl) {
    const [cmd, ...a] = line.trim().split(/\s+/);
    const t0 = Date.now();
    if (cmd === "wait-bytes") {
      const sel = `[data-testid="${a[1]}-used-${a[0]}"][data-bytes="${a[2]}"]`;
      const ok = await page.waitForSelector(sel, { timeout: Number(a[3]) }).then(() => true, () => false);
      say({ ok, ms: Date.now() - t0 });
    } else if (cmd === "wait-row") {
      const sel = `[data-testid="process-row-${a[0]}-${a[1]}"]`;
      const ok = await page.waitForSelector(sel, { timeout: Number(a[2]) }).then(() => true, () => false);
      say({ ok, ms: Date.now() - t0 });
    } else if (cmd === "wait-selector") {
      const ok = await page.waitForSelector(a.slice(1).join(" "), { timeout: Number(a[0]) }).then(() => true, () => false);
      say({ ok, ms: Date.now() - t0 });
    } else if (cmd === "wait-responses") {
      let ok = true;
      for (let i = 0; ok && i < Number(a[1]); i++) {
        const left = Number(a[2]) - (Date.now() - t0);
        ok = left > 0 && await page.waitForResponse((r) => r.url().includes(a[0]), { timeout: left })
          .then(() => true, () => false);
      }
      say({ ok, ms: Date.now() - t0 });
    } else if (cmd === "wait-gone") {
      const ok = await page.waitForSelector(a.slice(1).join(" "), { state: "detached", timeout: Number(a[0]) })
        .then(() => true, () => false);
      say({ ok, ms: Date.now() - t0 });
    } else if (cmd === "wait-attr") {
      const [ms, name, want] = a, sel = a.slice(3).join(" ");
      let value = null;
      const ok = await page.waitForFunction(([sel, name, want]) => {
        const e = document.querySelector(sel);
        return e && e.getAttribute(name) === want;
      }, [sel, name, want], { timeout: Number(ms), polling: 100 }).then(() => true, () => false);
      value = await page.evaluate(([sel, name]) => { const e = document.querySelector(sel); return e && e.getAttribute(name); }, [sel, name]);
      say({ ok, ms: Date.now() - t0, value });
    } else if (cmd === "text") {
      say({ text: await page.locator(a.join(" ")).first().innerText() });
    } else if (cmd === "count") {
      say({ n: await page.locator(a.join(" ")).count() });
    } else if (cmd === "attr") {
      say({ value: await page.locator(a.slice(1).join(" ")).first().getAttribute(a[0]) });
    } else if (cmd === "attrs") {
      say({ values: await page.locator(a.slice(1).join(" ")).evaluateAll((es, n) => es.map(e => e.getAttribute(n)), a[0]) });
    } else if (cmd === "style") {
      say({ value: await page.locator(a.slice(1).join(" ")).first().evaluate((e, p) => getComputedStyle(e).getPropertyValue(p), a[0]) });
    } else if (cmd === "click") {
      await page.locator(a.join(" ")).first().click();
      say({ ok: true });
    } else if (cmd === "hover") {
      const loc = page.locator(a.slice(2).join(" ")).first();
      const box = await loc.boundingBox();
      await loc.hover({ position: { x: box.width * Number(a[0]), y: box.height * Number(a[1]) } });
      say({ ok: true });
    } else if (cmd === "key") {
      const loc = page.locator(a.slice(1).join(" ")).first();
      await loc.focus();
      await loc.press(a[0]);
      say({ ok: true });
    } else if (cmd === "viewport") {
      await page.setViewportSize({ width: Number(a[0]), height: Number(a[1]) });
      say({ ok: true });
    } else if (cmd === "emulate") {
      await page.emulateMedia({ colorScheme: a[0] });
      say({ ok: true });
    } else if (cmd === "layout") {
      say(await page.evaluate(() => ({ scrollWidth: document.documentElement.scrollWidth, innerWidth: window.innerWidth })));
    } else if (cmd === "screenshot") {
      await page.screenshot({ path: a[0], fullPage: true });
      say({ ok: true });
    } else if (cmd === "errors") {
      say({ errors });
    } else if (cmd === "quit") {
      break;
    } else {
      say({ error: "unknown command " + cmd });
    }
  }
} catch (e) {
  say({ fatal: String(e && e.stack || e), errors });
  process.exitCode = 1;
} finally {
  await browser.close();
  process.stdin.destroy();  // stdin would keep node alive
}
