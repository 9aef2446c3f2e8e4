// Drives the gateway's admin console (/admin/) in headless Chromium (Debian's
// /usr/bin/chromium, through playwright-core), as an operator would. Run by
// e2e/console_test.go, which holds two WebSocket connections open and
// watches what the console does to them.
//
// Env: CONSOLE_URL (the console page), ADMIN_TOKEN, CONN_ID (the
// connection to find and close), CHROMIUM (browser path), ARTIFACTS (a
// directory for a screenshot on failure). Prints one line per step:
// WRONG_TOKEN_REFUSED, COUNT 2, FOUND, CLOSED, COUNT 1, TAP_REFUSED,
// TAPPING (then waits for the test to publish "hello tap" on e2e.tap),
// TAPPED, OK.
import { join } from "node:path";
import { launch, timeout } from "./chat.pages.mjs";

const { CONSOLE_URL: url, ADMIN_TOKEN: token, CONN_ID: id, ARTIFACTS: artifacts } = process.env;
const browser = await launch();
const page = await (await browser.newContext()).newPage();
page.on("console", (m) => console.error(`[console] ${m.text()}`));
page.on("pageerror", (e) => console.error(`[console] page error: ${e.message}`));
const text = (sel, re) => page.locator(sel, { hasText: re }).waitFor({ timeout });

try {
  await page.goto(url);

  // A wrong token is refused, and the console stays shut.
  await page.fill("#token", "not-the-token");
  await page.click("#login button");
  await text("#login-error", /refused/);
  if (!(await page.locator("#app").isHidden())) throw new Error("the console opened with a wrong token");
  console.log("WRONG_TOKEN_REFUSED");

  await page.fill("#token", token);
  await page.click("#login button");
  await text("#total", /^2$/);
  console.log("COUNT 2");

  // Find the connection by id, see its details, close it.
  await page.selectOption("#field", "id");
  await page.fill("#query", id);
  await page.click("#search button");
  const rows = page.locator("#results tbody tr");
  await rows.first().waitFor({ timeout });
  if ((await rows.count()) !== 1) throw new Error(`${await rows.count()} results for id ${id}`);
  await rows.first().click();
  await text("#detail-json", new RegExp(`"connectionId": "${id}"`));
  console.log("FOUND");

  await page.click("#close-conn");
  await text("#close-status", /^closed$/);
  console.log("CLOSED");
  await text("#total", /^1$/);
  console.log("COUNT 1");

  // The tap refuses the gateway's own subjects, and shows others'.
  await page.fill("#tap-subject", "wsgate.>");
  await page.click("#tap button[type=submit]");
  await text("#tap-status.error", /reserved/);
  console.log("TAP_REFUSED");
  await page.fill("#tap-subject", "e2e.tap");
  await page.click("#tap button[type=submit]");
  await text("#tap-status", /^tapping e2e\.tap/);
  console.log("TAPPING");
  await text("#tap-messages li", /e2e\.tap .*hello tap/);
  console.log("TAPPED");
  console.log("OK");
} catch (e) {
  if (artifacts) {
    const shot = join(artifacts, "console-failure.png");
    await page.screenshot({ path: shot, fullPage: true }).catch(() => {});
    console.error(`screenshot: ${shot}`);
  }
  console.error(e);
  process.exitCode = 1;
} finally {
  await browser.close();
}
