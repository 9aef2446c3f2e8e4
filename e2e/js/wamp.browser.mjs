// Drives e2e/js/wamp.browser.html in headless Chromium (Debian's
// /usr/bin/chromium, through playwright-core): the page, served by the
// gateway with Autobahn|JS beside it, subscribes and calls. Run by
// e2e/wamp_browser_test.go, which runs the NATS worker and publishes.
//
// Env: WAMP_URL (the page), CHROMIUM (browser path). Prints "SUBSCRIBED"
// once the page's subscription is acknowledged, "CALLED" once the call's
// result is on the page, then waits for the NATS publication's event and
// prints "OK".
import { chromium } from "playwright-core";

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync"],
});
const timeout = 15000;
try {
  const page = await (await browser.newContext()).newPage();
  page.on("console", (m) => console.error(`[page] ${m.text()}`));
  await page.goto(process.env.WAMP_URL);
  await page.locator("#status", { hasText: /^subscribed$/ }).waitFor({ timeout });
  console.log("SUBSCRIBED");
  await page.locator("#result", { hasText: /^5$/ }).waitFor({ timeout });
  console.log("CALLED");
  await page.locator("#event", { hasText: /^from nats$/ }).waitFor({ timeout });
  console.log("OK");
} finally {
  await browser.close();
}
